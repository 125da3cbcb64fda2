"""Apply-if-newer: an ordered projection applies a subject's events in the order their producer recorded them.

The outbox relay stamps each event with `sequence` (its outbox position): for one producer and one subject a
larger sequence is a newer state. `is_newer(session, event)` keeps, in the kernel table `projection_sequences`,
the highest sequence applied per (stream, subject), where the stream is the producer unless the caller names one
(two projections fed by the same producer's subject, in one database, each need their own stream). It runs in
the consumer's transaction, so the record and the handler's effects commit or roll back together.

`newer_events(session, [(event, stream), ...])` decides the same for a whole batch in at most three statements
instead of one per event: the inbox's `handle_batch` uses it.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Iterable, Sequence

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


def _array_type(column: sa.Column):
    """The element type of a column's array parameter: the column's type without length or collation (a cast to
    VARCHAR(200) COLLATE "C"[] is no valid cast)."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return sa.DateTime(timezone=kind.timezone)
    for generic in (sa.BigInteger, sa.Integer, sa.Float, sa.Boolean, sa.Date, sa.Text):
        if isinstance(kind, generic):
            return generic()
    if isinstance(kind, sa.String):
        return sa.Text()
    return kind


def rows_insert(session: Session, table: sa.Table, rows: Sequence[dict]) -> tuple:
    """`(statement, parameters)` inserting `rows` (dicts with the same keys), for the caller to extend with ON
    CONFLICT and RETURNING (as `dialect_insert`'s) and run with `session.execute(statement, parameters)`.

    On PostgreSQL one array per column, unnested by the server: the statement's text is the same whatever the
    number of rows, so psycopg converts it once (multi-row VALUES, SQLAlchemy's insertmanyvalues, is a new text per
    batch that psycopg parses again every time: a third of a consumer's CPU), and the server plans one statement.
    On SQLite an executemany of the plain insert."""
    if session.get_bind().dialect.name != "postgresql":
        return dialect_insert(session, table), list(rows)
    names = tuple(rows[0])
    return _unnest_insert(table, names), {f"rows_{name}": [row[name] for row in rows] for name in names}


@functools.lru_cache(maxsize=256)
def _unnest_insert(table: sa.Table, names: tuple[str, ...]):
    """Built once per table and columns, the arrays given at execution: SQLAlchemy then finds the compiled form in
    its cache without building the statement again (building it took a millisecond a batch)."""
    arrays = [sa.bindparam(f"rows_{name}", type_=postgresql.ARRAY(_array_type(table.c[name]))) for name in names]
    # In the rows' order, so that a serial key (the outbox's position) follows it.
    source = sa.func.unnest(*arrays).table_valued(*names, with_ordinality="rows_order").render_derived()
    rows_in_order = sa.select(*(source.c[name] for name in names)).order_by(source.c.rows_order)
    return postgresql.insert(table).from_select(list(names), rows_in_order)


def one_of(session: Session, column: sa.Column, values: Sequence):
    """`column IN values`; on PostgreSQL `column = ANY(array)`, one parameter whatever the number of values (a
    text psycopg converts once, see rows_insert)."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(_array_type(column))))


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


_CHUNK = 500  # rows per statement: far below the bind parameter limits of PostgreSQL and SQLite


def _chunks(items: Sequence, size: int = _CHUNK):
    return (items[start:start + size] for start in range(0, len(items), size))


def newer_events(session: Session, events: Iterable[tuple[Event, str | None]]) -> set[str]:
    """The ids of the events, among (event, stream) pairs taken in order, that `is_newer` would apply one after the
    other (an event without sequence always), with the highest sequences recorded. One statement inserts the
    (stream, subject) pairs never seen, with the batch's highest sequence; only when some were known, one more
    reads and locks them (FOR UPDATE, in key order, on PostgreSQL: a concurrent consumer of the same subject waits
    for our commit, as with is_newer) and one records the new highest sequences.

    Why it is safe beside a concurrent consumer: after the insert, each pair is either ours (inserted, locked until
    we commit) or committed by another transaction (INSERT ... ON CONFLICT DO NOTHING waits for an uncommitted
    conflicting row); the locking read then sees its latest committed sequence."""
    table = PROJECTION_SEQUENCES
    keyed = [(event, (stream or event.producer, event.subject)) for event, stream in events]
    newer = {event.id for event, _ in keyed if event.sequence is None}
    keyed = [(event, key) for event, key in keyed if event.sequence is not None]
    if not keyed:
        return newer
    highest: dict[tuple[str, str], int] = {}
    for event, key in keyed:
        highest[key] = max(highest.get(key, -1), event.sequence)
    keys = sorted(highest)  # one lock order for every consumer
    now = dt.datetime.now(dt.timezone.utc)
    # In key order (rows_insert keeps it).
    statement, parameters = rows_insert(session, table, [
        {"stream": stream, "subject": subject, "sequence": highest[(stream, subject)], "updated_at": now}
        for stream, subject in keys])
    statement = statement.on_conflict_do_nothing(
        index_elements=[table.c.stream, table.c.subject]).returning(table.c.stream, table.c.subject)
    current: dict[tuple[str, str], int | None] = {
        (row.stream, row.subject): None for row in session.execute(statement, parameters)}
    known = [key for key in keys if key not in current]
    for chunk in _chunks(known):
        rows = session.execute(
            sa.select(table.c.stream, table.c.subject, table.c.sequence)
            .where(sa.tuple_(table.c.stream, table.c.subject).in_(chunk))
            .order_by(table.c.stream, table.c.subject).with_for_update())
        current.update({(row.stream, row.subject): row.sequence for row in rows})
    latest = dict(current)
    for event, key in keyed:  # in the batch's order, as is_newer one event after the other
        if latest.get(key) is None or event.sequence > latest[key]:
            latest[key] = event.sequence
            newer.add(event.id)
        else:
            log.info("event older than the state already applied, skipped", extra={
                "event_id": event.id, "event_type": event.type, "stream": key[0], "sequence": event.sequence})
    moved = [{"stream": stream, "subject": subject, "sequence": latest[(stream, subject)], "updated_at": now}
             for stream, subject in known if latest[(stream, subject)] != current.get((stream, subject))]
    if moved:
        # An upsert rather than an update: a pair the locking read did not find (nothing deletes them today) is
        # recorded all the same.
        statement, parameters = rows_insert(session, table, moved)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.stream, table.c.subject],
            set_={"sequence": statement.excluded.sequence, "updated_at": statement.excluded.updated_at},
            where=table.c.sequence < statement.excluded.sequence)
        session.execute(statement, parameters)
    return newer


def last_sequence(session: Session, subject: str, stream: str) -> int | None:
    """The highest sequence applied for (stream, subject), None before the first."""
    return session.execute(sa.select(PROJECTION_SEQUENCES.c.sequence).where(
        PROJECTION_SEQUENCES.c.stream == stream, PROJECTION_SEQUENCES.c.subject == subject)).scalar_one_or_none()
