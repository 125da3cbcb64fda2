"""Idempotent consumption: the event id is recorded in the same transaction as the handler's effects.

A redelivered event finds its id already there and is acknowledged without running the handler again. Ids are
forgotten after the inbox's retention (`prune`), so an event older than that may have been handled already
without a trace: `handle_batch` refuses it (`EventTooOld`, an InvalidEvent, so the bus dead-letters it) instead of
applying it twice. An ordered subscription also skips an event older than the state it already applied
(services.ordering).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Callable, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services import correlation
from services.db import UnitOfWork, kernel_tables
from services.events import Event, InvalidEvent
from services.ordering import newer_events, rows_insert

log = logging.getLogger("services.inbox")
_, INBOX = kernel_tables(sa.MetaData())

Handler = Callable[[UnitOfWork, Event], None]
BatchHandler = Callable[[UnitOfWork, list[Event]], None]

DEFAULT_RETENTION = dt.timedelta(hours=720)  # INBOX_RETENTION_HOURS's default


class EventTooOld(InvalidEvent):
    """The event occurred before the inbox's retention: its id may have been forgotten after it was handled."""


@dataclasses.dataclass(frozen=True)
class Subscription:
    """How a service consumes one event type. `ordered`: skip an event older than the state already applied for
    its subject (services.ordering), keyed by `stream` when given, else by the event's producer.

    `batch`: `handler(uow, events)` is called once per batch with all the batch's events it handles (those of
    every type it is subscribed to, duplicates and older events left out), in the batch's order, at the place of
    the first of them: a handler that reads and writes a whole batch in a few statements instead of a few per
    event. Its events are then applied before the batch's events of other handlers that came between them: use it
    where the service's handlers do not depend on that order."""
    handler: Handler | BatchHandler
    ordered: bool = False
    stream: str | None = None
    batch: bool = False


def handle_batch(session_factory: sessionmaker, subscriptions: Mapping[str, Subscription], events: Iterable[Event],
                 *, retention: dt.timedelta | None = DEFAULT_RETENTION) -> int:
    """Handle `events` in one transaction: record their ids in the inbox (an id already there is skipped), refuse
    the batch if one is older than `retention` (None: no such check), skip those of an ordered subscription that
    are not newer, run the handler of each other one in the batch's order; one commit. Returns how many events
    were applied. Any exception rolls back the whole batch (the caller replays it one event at a time to find the
    culprit).

    The bookkeeping is done for the whole batch before the handlers run, in a few statements whatever its size
    (one for the inbox, one to three for the order): one statement per event each was most of a consumer's
    database round trips."""
    applied = 0
    now = dt.datetime.now(dt.timezone.utc)
    subscribed = []
    for event in events:
        if event.type not in subscriptions:  # bound by mistake, or left over from an older binding: nothing to do
            log.info("event without subscription ignored", extra={"event_id": event.id, "event_type": event.type})
            continue
        subscribed.append(event)
    with UnitOfWork(session_factory) as uow:
        recorded = _record_many(uow.session, subscribed)
        fresh: list[Event] = []
        for event in subscribed:
            if event.id not in recorded:
                log.info("duplicate event ignored", extra={"event_id": event.id, "event_type": event.type})
                continue
            recorded.discard(event.id)  # the same event twice in one batch: the second is a duplicate
            if retention is not None:
                _refuse_if_too_old(event, now, retention)
            fresh.append(event)
        newer = newer_events(uow.session, [(event, subscriptions[event.type].stream) for event in fresh
                                           if subscriptions[event.type].ordered])
        runs: list[tuple[Subscription, list[Event]]] = []
        batched: dict[int, list[Event]] = {}  # a batch handler's events, by handler
        for event in fresh:
            subscription = subscriptions[event.type]
            if subscription.ordered and event.id not in newer:
                continue
            if not subscription.batch:
                runs.append((subscription, [event]))
            elif id(subscription.handler) in batched:
                batched[id(subscription.handler)].append(event)
            else:
                batched[id(subscription.handler)] = [event]
                runs.append((subscription, batched[id(subscription.handler)]))
        for subscription, handled in runs:
            if subscription.batch:
                # The batch's correlation id when its events share one (an import's do), else none.
                shared = {event.correlation_id for event in handled}
                with correlation.bound(shared.pop() if len(shared) == 1 else None):
                    subscription.handler(uow, handled)
            else:
                with correlation.bound(handled[0].correlation_id):
                    subscription.handler(uow, handled[0])
            applied += len(handled)
        uow.commit()
    return applied


def handle_once(session_factory: sessionmaker, handler: Handler, event: Event) -> bool:
    """Run `handler(uow, event)` unless this event id was already handled. Returns False for a duplicate.
    Neither ordered nor limited in age: the worker goes through handle_batch."""
    return handle_batch(session_factory, {event.type: Subscription(handler)}, [event], retention=None) == 1


def _record_many(session: Session, events: list[Event]) -> set[str]:
    """Insert the events' ids; returns those that were not there yet. One statement (services.ordering.rows_insert).
    ON CONFLICT DO NOTHING rather than a savepoint per event: PostgreSQL slows down every session once a
    transaction holds more than 64 subtransactions, and a batch may hold more events than that."""
    rows = list({event.id: {"event_id": event.id, "event_type": event.type} for event in events}.values())
    if not rows:
        return set()
    statement, parameters = rows_insert(session, INBOX, rows)
    statement = statement.on_conflict_do_nothing(index_elements=[INBOX.c.event_id])
    return set(session.execute(statement.returning(INBOX.c.event_id), parameters).scalars())


def _refuse_if_too_old(event: Event, now: dt.datetime, retention: dt.timedelta) -> None:
    try:
        occurred_at = dt.datetime.fromisoformat(event.occurred_at)
    except ValueError:
        raise InvalidEvent(f"event occurred_at {event.occurred_at!r} is not an ISO 8601 time") from None
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=dt.timezone.utc)
    if now - occurred_at > retention:
        raise EventTooOld(f"event occurred at {event.occurred_at}, longer ago than the inbox remembers "
                          f"({retention}): too old to know whether it was already handled")


def prune(session_factory: sessionmaker, received_before) -> int:
    """Forget event ids older than the redelivery window (a broker redelivers within minutes, not weeks)."""
    with session_factory() as session, session.begin():
        return session.execute(INBOX.delete().where(INBOX.c.received_at < received_before)).rowcount
