"""Transactional outbox: events are written with the state change, then a relay publishes them.

`record_many(session, events)` inserts events in the caller's transaction (UnitOfWork.add_event does it at commit). `OutboxRelay.run_once()` takes a batch of
unsent rows (FOR UPDATE SKIP LOCKED on PostgreSQL, so several relays never publish the same row concurrently),
publishes each with publisher confirms and marks it sent. A broker outage leaves the rows unsent; the next pass
retries them. Nothing is lost, and a row can be published twice only if the process dies between the broker's
confirm and the commit: consumers are idempotent (services.inbox).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.events import Event

log = logging.getLogger("services.outbox")

_metadata = sa.MetaData()
from services.db import kernel_tables  # noqa: E402  (module-level table description, no I/O)

OUTBOX, _ = kernel_tables(_metadata)


def record_many(session: Session, events: list[Event]) -> None:
    """Insert events in the caller's transaction, in order, with one executemany."""
    now = dt.datetime.now(dt.timezone.utc)
    session.execute(OUTBOX.insert(), [{"event_id": event.id, "event_type": event.type, "payload": event.to_json(),
                                       "created_at": now} for event in events])


class OutboxRelay:
    def __init__(self, session_factory: sessionmaker[Session], bus, batch_size: int = 200):
        self.session_factory = session_factory
        self.bus = bus
        self.batch_size = batch_size

    def run_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        with self.session_factory() as session, session.begin():
            query = (sa.select(OUTBOX.c.position, OUTBOX.c.payload)
                     .where(OUTBOX.c.sent_at.is_(None))
                     .order_by(OUTBOX.c.position)
                     .limit(self.batch_size))
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return 0
            sent: list[int] = []
            try:
                for position, payload in rows:
                    self.bus.publish(Event.from_dict(json.loads(payload)))
                    sent.append(position)
            except Exception as error:  # the broker is down or refused: keep the rest for the next pass
                log.warning("outbox publish failed, will retry: %r", error)
                failed = rows[len(sent)][0]
                session.execute(OUTBOX.update().where(OUTBOX.c.position == failed).values(
                    attempts=OUTBOX.c.attempts + 1, last_error=repr(error)[:2000]))
            if sent:
                session.execute(OUTBOX.update().where(OUTBOX.c.position.in_(sent)).values(
                    sent_at=dt.datetime.now(dt.timezone.utc)))
            return len(sent)

    def prune(self, sent_before: dt.datetime) -> int:
        """Delete rows sent before `sent_before`: payloads carry personal data (birth dates, single-use links)
        that must not outlive their delivery. Unsent rows are never pruned."""
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
                stop.wait(poll_seconds)

    def pending(self) -> int:
        with self.session_factory() as session:
            return session.execute(sa.select(sa.func.count()).select_from(OUTBOX)
                                   .where(OUTBOX.c.sent_at.is_(None))).scalar_one()
