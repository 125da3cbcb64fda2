"""Transactional outbox: events are written with the state change, then a relay publishes them.

`record_many(session, events)` inserts events in the caller's transaction (UnitOfWork.add_event does it at commit),
one row per event with its subject. `OutboxRelay.run_once()`:

1. claims a batch of pending rows (unsent, not parked, not claimed by another relay or waiting to be retried) in
   a short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas never claim the same rows): it sets
   `claimed_until` (a lease) and `claimed_by`, and leaves out every row whose subject has an earlier pending row it
   did not claim, so two replicas never publish a subject's events out of order;
2. publishes them with `bus.publish_many` OUTSIDE any database transaction (a stalled broker holds no lock), each
   event's `sequence` set to its row's position; a subject's rows of one claim go out in successive waves, the
   next one only after the previous one was confirmed;
3. in another short transaction, marks confirmed rows sent, counts an attempt on refused ones (`attempts`,
   `last_error`, retried after a growing delay; the subject's later rows wait behind them), parks a row refused
   `max_attempts` times (`parked_at`: it no longer blocks its subject, `parked()` lists it, `unpark()` puts it
   back), and releases what was not published.

A broker that cannot be reached counts no attempt (an outage must never park anything): the rows stay pending
and the relay's `state` says since when the broker is unavailable, for the worker status. Nothing is lost, and a
row is published twice only if the relay dies (or outlives its lease) between the broker's confirm and the
commit: consumers are idempotent (services.inbox).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.db import kernel_tables
from services.events import Event, InvalidEvent
from services.ordering import one_of

log = logging.getLogger("services.outbox")

OUTBOX, _ = kernel_tables(sa.MetaData())

RELAY_OK = "ok"
RELAY_UNAVAILABLE = "unavailable"   # the broker cannot be reached or does not confirm
RELAY_FAILING = "failing"           # a pass failed for another reason (the database, most likely)

_ERROR_LENGTH = 500


def record_many(session: Session, events: list[Event]) -> None:
    """Insert events in the caller's transaction, in order, with one executemany."""
    now = dt.datetime.now(dt.timezone.utc)
    # Not services.ordering.rows_insert: a JSON payload in a text array is escaped character by character by psycopg
    # (three times the CPU of this executemany, which psycopg pipelines from one prepared statement).
    session.execute(OUTBOX.insert(), [{"event_id": event.id, "event_type": event.type, "subject": event.subject,
                                       "payload": event.to_json(), "created_at": now} for event in events])


@dataclasses.dataclass(frozen=True)
class ParkedEvent:
    """An outbox row the broker refused `max_attempts` times. `payload` is the event's JSON (personal data: show
    it to whoever may replay it, never log it)."""
    position: int
    event_id: str
    event_type: str
    subject: str | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    parked_at: dt.datetime
    payload: str


@dataclasses.dataclass(frozen=True)
class _Row:
    position: int
    subject: str | None
    payload: str
    attempts: int


class _Outcome:
    """What one pass did with its claimed rows."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.refused: dict[int, str] = {}
        self.released: list[int] = []
        self.unavailable: str | None = None


def describe_error(error: BaseException) -> str:
    """The exception's type and the first line of its message: never SQL parameters or a payload, which may carry
    personal data (SQLAlchemy puts them in its message, PostgreSQL in the lines after the first)."""
    if isinstance(error, sa.exc.StatementError) and error.orig is not None:
        error = error.orig
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}"[:_ERROR_LENGTH] if lines else type(error).__name__


def _refused_by_broker(error: BaseException) -> bool:
    """Only for a bus without publish_many: an explicit nack is about this event; anything else (connection,
    timeout, configuration) is about the broker, and must not count against the event."""
    try:
        from amqp.exceptions import MessageNacked
    except ImportError:  # pragma: no cover - amqp comes with kombu
        return False
    return isinstance(error, MessageNacked)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; the kernel always writes UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def new_instance_id() -> str:
    """host:pid:random, to tell apart the replicas of a worker (and the relays in one test)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class OutboxRelay:
    def __init__(self, session_factory: sessionmaker[Session], bus, batch_size: int = 500, *,
                 max_attempts: int = 10, publish_timeout: float = 10.0, lease_seconds: float = 60.0,
                 retry_backoff_seconds: float = 1.0, max_backoff_seconds: float = 300.0,
                 relay_id: str | None = None):
        """`max_attempts`: refusals before a row is parked (setting OUTBOX_MAX_ATTEMPTS). `publish_timeout`: how
        long the broker has to confirm one wave. `lease_seconds`: how long a claim keeps other relays away; it
        must exceed the publication of a batch, or another relay may publish the same rows again (harmless, but
        twice). A refused row waits `retry_backoff_seconds * 2**(attempts-1)` (at most `max_backoff_seconds`)
        before its next attempt, so a refusal that lasts minutes does not park it within seconds."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.session_factory = session_factory
        self.bus = bus
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.publish_timeout = publish_timeout
        self.lease_seconds = lease_seconds
        self.retry_backoff_seconds = retry_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.relay_id = relay_id or new_instance_id()
        self._status = (RELAY_OK, "")
        self._trouble_since: dt.datetime | None = None

    # -- state, for the worker status ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """`ok`, `unavailable` (the broker) or `failing` (anything else, such as the database)."""
        return self._status[0]

    @property
    def detail(self) -> str:
        """Empty when ok, else since when and why, e.g. `broker unavailable since 2026-01-05T10:00:00+00:00: …`."""
        return self._status[1]

    def status(self) -> tuple[str, str]:
        return self._status  # one tuple, so a reader in another thread never sees a state with another's detail

    def _set_ok(self) -> None:
        if self._status[0] != RELAY_OK:
            log.info("outbox relay back to normal", extra={"after": self._status[1]})
        self._status, self._trouble_since = (RELAY_OK, ""), None

    def _set_trouble(self, state: str, what: str, reason: str) -> None:
        if self._status[0] != state or self._trouble_since is None:
            self._trouble_since = _utcnow()
            log.warning("outbox relay: %s", what, extra={"reason": reason})
        since = self._trouble_since.isoformat(timespec="seconds")
        self._status = (state, f"{what} since {since}: {reason}")

    # -- one pass ------------------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Publish one batch; returns how many events the broker confirmed."""
        try:
            return self._run_once()
        except Exception as error:
            self._set_trouble(RELAY_FAILING, "relay failing", describe_error(error))
            raise

    def _run_once(self) -> int:
        rows = self._claim()
        if not rows:
            if self.state != RELAY_OK:
                self._probe()
            return 0
        deadline = time.monotonic() + max(self.lease_seconds - self.publish_timeout - 1.0, 0.0)
        outcome = self._publish_in_waves(rows, deadline)
        self._settle(rows, outcome)
        if outcome.unavailable is not None:
            self._set_trouble(RELAY_UNAVAILABLE, "broker unavailable", outcome.unavailable)
        elif outcome.sent or outcome.refused:
            self._set_ok()
        return len(outcome.sent)

    def _claim(self) -> list[_Row]:
        """Positions and subjects go as arrays on PostgreSQL (services.ordering.one_of): an IN list of 500 values
        is a new statement text that psycopg parses on every pass."""
        now = _utcnow()
        pending = (OUTBOX.c.sent_at.is_(None), OUTBOX.c.parked_at.is_(None))
        claimable = sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)
        # Look before taking locks: most passes find nothing, and on SQLite a write transaction per poll would make
        # every writer of the service queue behind an idle relay.
        with self.session_factory() as session:
            if session.execute(sa.select(OUTBOX.c.position).where(*pending, claimable).limit(1)).first() is None:
                return []
        with self.session_factory() as session, session.begin():
            query = (sa.select(OUTBOX.c.position, OUTBOX.c.subject, OUTBOX.c.payload, OUTBOX.c.attempts)
                     .where(*pending, claimable)
                     .order_by(OUTBOX.c.position)
                     .limit(self.batch_size))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [_Row(*row) for row in session.execute(query).all()]
            if not rows:
                return []
            positions = [row.position for row in rows]
            subjects = {row.subject for row in rows if row.subject is not None}
            # A subject's earliest pending row outside this claim: claimed by another relay, waiting for a retry,
            # or not reached by this batch. Our rows of that subject after it must wait for it. Only rows before our
            # last one can hold one of ours back: bounding the positions keeps the lookup a short index range even
            # when the planner has no statistics yet (a growing outbox: without the bound it read every pending row).
            earliest: dict[str, int] = {}
            if subjects:
                earliest = dict(session.execute(
                    sa.select(OUTBOX.c.subject, sa.func.min(OUTBOX.c.position))
                    .where(*pending, one_of(session, OUTBOX.c.subject, sorted(subjects)),
                           OUTBOX.c.position < max(positions), sa.not_(one_of(session, OUTBOX.c.position, positions)))
                    .group_by(OUTBOX.c.subject)).all())
            kept = [row for row in rows
                    if row.subject is None or row.position < earliest.get(row.subject, row.position + 1)]
            if kept:
                session.execute(OUTBOX.update().where(one_of(session, OUTBOX.c.position,
                                                             [row.position for row in kept]))
                                .values(claimed_until=now + dt.timedelta(seconds=self.lease_seconds),
                                        claimed_by=self.relay_id))
            if len(kept) < len(rows):
                log.debug("outbox rows left for later to keep their subject's order",
                          extra={"rows": len(rows) - len(kept)})
            return kept

    def _publish_in_waves(self, rows: list[_Row], deadline: float) -> _Outcome:
        """Wave n holds the n-th claimed row of each subject (a row without subject is a wave of its own kind:
        first wave), so a subject's second event is published only once its first is confirmed."""
        outcome = _Outcome()
        waves: list[list[_Row]] = []
        seen: dict[str, int] = {}
        for row in rows:  # in position order
            rank = 0
            if row.subject is not None:
                rank = seen.get(row.subject, 0)
                seen[row.subject] = rank + 1
            if rank == len(waves):
                waves.append([])
            waves[rank].append(row)
        blocked: set[str] = set()
        for index, wave in enumerate(waves):
            if outcome.unavailable is not None or time.monotonic() > deadline:
                outcome.released.extend(row.position for later in waves[index:] for row in later)
                break
            events, publishable = [], []
            for row in wave:
                if row.subject is not None and row.subject in blocked:
                    outcome.released.append(row.position)
                    continue
                try:
                    events.append(dataclasses.replace(Event.from_dict(json.loads(row.payload)),
                                                      sequence=row.position))
                    publishable.append(row)
                except (ValueError, TypeError, InvalidEvent) as error:  # never publishable: park it in time
                    outcome.refused[row.position] = f"not an event: {describe_error(error)}"
                    if row.subject is not None:
                        blocked.add(row.subject)
            if not events:
                continue
            results, outcome.unavailable = self._publish(events)
            for rank, row in enumerate(publishable):
                if rank >= len(results):  # not published: the broker became unavailable before it
                    outcome.released.append(row.position)
                elif results[rank] is None:
                    outcome.sent.append(row.position)
                else:
                    outcome.refused[row.position] = str(results[rank])[:_ERROR_LENGTH]
                    if row.subject is not None:
                        blocked.add(row.subject)
        return outcome

    def _publish(self, events: list[Event]) -> tuple[list[str | None], str | None]:
        """(one result per event published: None when confirmed, else why refused; the reason the broker is
        unavailable, when it is). Events past the results were not published."""
        publish_many = getattr(self.bus, "publish_many", None)
        if publish_many is not None:
            try:
                results = list(publish_many(events, timeout=self.publish_timeout))
            except Exception as error:  # BrokerUnavailable or anything else: nothing is known to be confirmed
                return [], describe_error(error)
            if len(results) != len(events):
                raise RuntimeError(f"publish_many answered {len(results)} results for {len(events)} events")
            return results, None
        # A bus without publish_many: one event at a time, each confirmed before the next.
        results: list[str | None] = []
        for event in events:
            try:
                self.bus.publish(event)
            except Exception as error:
                if not _refused_by_broker(error):
                    return results, describe_error(error)
                results.append(describe_error(error))
            else:
                results.append(None)
        return results, None

    def _settle(self, rows: list[_Row], outcome: _Outcome) -> None:
        now = _utcnow()
        attempts = {row.position: row.attempts for row in rows}
        unsent = OUTBOX.c.sent_at.is_(None)
        with self.session_factory() as session, session.begin():
            if outcome.sent:
                session.execute(OUTBOX.update().where(one_of(session, OUTBOX.c.position, outcome.sent))
                                .values(sent_at=now, claimed_until=None, claimed_by=None))
            if outcome.refused:
                updates = []
                # One line per pass and reason, not per row: a queue that stays full refuses thousands of rows a
                # minute, and a log line each was a good part of the relay's work.
                refusals: dict[tuple[bool, str], list[tuple[int, int]]] = {}
                for position, reason in outcome.refused.items():
                    count = attempts[position] + 1
                    parked = count >= self.max_attempts
                    delay = min(self.retry_backoff_seconds * 2 ** (count - 1), self.max_backoff_seconds)
                    updates.append({"p": position, "a": count, "e": reason, "pk": now if parked else None,
                                    "cu": None if parked else now + dt.timedelta(seconds=delay)})
                    refusals.setdefault((parked, reason), []).append((position, count))
                for (parked, reason), rows in refusals.items():
                    log.warning("outbox events parked: refused by the broker" if parked else
                                "outbox events refused by the broker, will retry",
                                extra={"events": len(rows), "positions": [position for position, _ in rows[:20]],
                                       "attempts": max(count for _, count in rows), "error": reason})
                # The retry time goes in claimed_until with no owner: no relay claims the row before then.
                session.execute(OUTBOX.update().where(OUTBOX.c.position == sa.bindparam("p"), unsent).values(
                    attempts=sa.bindparam("a"), last_error=sa.bindparam("e"), parked_at=sa.bindparam("pk"),
                    claimed_until=sa.bindparam("cu"), claimed_by=None), updates)
            if outcome.released:
                values: dict[str, Any] = {"claimed_until": None, "claimed_by": None}
                if outcome.unavailable is not None:
                    values["last_error"] = f"broker unavailable: {outcome.unavailable}"[:_ERROR_LENGTH]
                session.execute(OUTBOX.update().where(one_of(session, OUTBOX.c.position, outcome.released), unsent,
                                                      OUTBOX.c.claimed_by == self.relay_id).values(**values))

    def _probe(self) -> None:
        """Nothing to publish while the broker was unavailable: ask it, so the state does not stay stale."""
        check = getattr(self.bus, "check", None)
        if check is None or self.state == RELAY_FAILING:
            self._set_ok()  # the pass that just ran reached the database; nothing tells the broker is down
            return
        try:
            check()
        except Exception as error:
            self._set_trouble(RELAY_UNAVAILABLE, "broker unavailable", describe_error(error))
        else:
            self._set_ok()

    # -- parked rows (assmat dlq) --------------------------------------------------------------------------------
    def parked(self) -> list[ParkedEvent]:
        with self.session_factory() as session:
            rows = session.execute(
                sa.select(OUTBOX.c.position, OUTBOX.c.event_id, OUTBOX.c.event_type, OUTBOX.c.subject,
                          OUTBOX.c.attempts, OUTBOX.c.last_error, OUTBOX.c.created_at, OUTBOX.c.parked_at,
                          OUTBOX.c.payload)
                .where(OUTBOX.c.parked_at.is_not(None), OUTBOX.c.sent_at.is_(None))
                .order_by(OUTBOX.c.position)).all()
        return [ParkedEvent(position=row.position, event_id=row.event_id, event_type=row.event_type,
                            subject=row.subject, attempts=row.attempts, last_error=row.last_error,
                            created_at=_aware(row.created_at), parked_at=_aware(row.parked_at), payload=row.payload)
                for row in rows]

    def unpark(self, event_ids: Iterable[str] | None = None) -> int:
        """Put parked rows back in the queue with their attempts reset (all of them when `event_ids` is None);
        returns how many. A row published after its subject's newer events is skipped by ordered consumers."""
        query = (OUTBOX.update().where(OUTBOX.c.parked_at.is_not(None), OUTBOX.c.sent_at.is_(None))
                 .values(parked_at=None, attempts=0, claimed_until=None, claimed_by=None))
        if event_ids is not None:
            ids = [str(event_id) for event_id in event_ids]
            if not ids:
                return 0
            query = query.where(OUTBOX.c.event_id.in_(ids))
        with self.session_factory() as session, session.begin():
            return session.execute(query).rowcount

    # -- housekeeping and loop -----------------------------------------------------------------------------------
    def prune(self, sent_before: dt.datetime) -> int:
        """Delete rows sent before `sent_before`: payloads carry personal data (birth dates, single-use links)
        that must not outlive their delivery. Unsent rows (parked ones included) are never pruned."""
        with self.session_factory() as session, session.begin():
            return session.execute(OUTBOX.delete().where(OUTBOX.c.sent_at < sent_before)).rowcount

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        while not stop.is_set():
            try:
                published = self.run_once()
            except Exception:
                log.exception("outbox relay pass failed")
                published = 0
            if published < self.batch_size:
                # In trouble, wait longer: the next pass would only fail the same way.
                stop.wait(poll_seconds if self.state == RELAY_OK else max(poll_seconds, 1.0))

    def pending(self) -> int:
        """Rows still to publish (parked ones are not: see `parked()`)."""
        with self.session_factory() as session:
            return session.execute(sa.select(sa.func.count()).select_from(OUTBOX)
                                   .where(OUTBOX.c.sent_at.is_(None), OUTBOX.c.parked_at.is_(None))).scalar_one()
