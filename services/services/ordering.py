"""Apply-if-newer: an ordered projection applies a subject's events in the order their producer recorded them.

The outbox relay stamps each event with `sequence` (its outbox position): for one producer and one subject a
larger sequence is a newer state. `is_newer(session, event)` keeps, in the kernel table `projection_sequences`,
the highest sequence applied per (stream, subject), where the stream is the producer unless the caller names one
(two projections fed by the same producer's subject, in one database, each need their own stream). It runs in
the consumer's transaction, so the record and the handler's effects commit or roll back together.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.db import kernel_tables
from services.events import Event

log = logging.getLogger("services.ordering")

_metadata = sa.MetaData()
kernel_tables(_metadata)
PROJECTION_SEQUENCES = _metadata.tables["projection_sequences"]


def dialect_insert(session: Session, table: sa.Table):
    """INSERT with ON CONFLICT clauses on the two databases the kernel runs on."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {name} dialect")


def is_newer(session: Session, event: Event, stream: str | None = None) -> bool:
    """True (and recorded) when `event` is newer than anything applied for its (stream, subject); False for an
    event with a lower or equal sequence, which the caller skips. An event without sequence is applied."""
    if event.sequence is None:
        return True
    key = stream or event.producer
    table = PROJECTION_SEQUENCES
    statement = dialect_insert(session, table).values(
        stream=key, subject=event.subject, sequence=event.sequence, updated_at=dt.datetime.now(dt.timezone.utc))
    # One statement that compares and records: on PostgreSQL a concurrent consumer of the same subject waits for
    # our commit on the row, then compares with what we recorded.
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.stream, table.c.subject],
        set_={"sequence": statement.excluded.sequence, "updated_at": statement.excluded.updated_at},
        where=table.c.sequence < statement.excluded.sequence).returning(table.c.sequence)
    if session.execute(statement).first() is not None:  # a row comes back only when inserted or updated
        return True
    log.info("event older than the state already applied, skipped", extra={
        "event_id": event.id, "event_type": event.type, "stream": key, "sequence": event.sequence})
    return False


def last_sequence(session: Session, subject: str, stream: str) -> int | None:
    """The highest sequence applied for (stream, subject), None before the first."""
    return session.execute(sa.select(PROJECTION_SEQUENCES.c.sequence).where(
        PROJECTION_SEQUENCES.c.stream == stream, PROJECTION_SEQUENCES.c.subject == subject)).scalar_one_or_none()
