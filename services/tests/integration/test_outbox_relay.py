"""The outbox relay on PostgreSQL and on SQLite: order per subject across replicas, refused rows that neither block
other subjects nor stay forever, no database transaction open while the broker is slow, and databases migrated
from the first version of the kernel's tables."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import sqlite3
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.db import UnitOfWork, kernel_tables, make_engine, make_session_factory
from services.events import Event
from services.outbox import OUTBOX, OutboxRelay

metadata = sa.MetaData()
kernel_tables(metadata)


@pytest.fixture(params=["postgres", "sqlite"])
def db(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("real_servers").database(f"relay_{uuid.uuid4().hex[:6]}")
    else:
        url = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    yield SimpleNamespace(url=url, engine=engine, session_factory=make_session_factory(engine),
                          dialect=request.param)
    engine.dispose()


def event(subject: str, n: int = 0, type_: str = "agrement.granted") -> Event:
    return Event(type=type_, version=1, subject=subject, data={"n": n, "birth_date": "1979-05-17"}, producer="test")


def record(session_factory, *events: Event) -> None:
    with UnitOfWork(session_factory) as uow:
        for e in events:
            uow.add_event(e)
        uow.commit()


def positions(session_factory) -> dict[str, int]:
    with session_factory() as session:
        return dict(session.execute(sa.select(OUTBOX.c.event_id, OUTBOX.c.position)).all())


def row(session_factory, event_id: str):
    with session_factory() as session:
        return session.execute(sa.select(OUTBOX).where(OUTBOX.c.event_id == event_id)).one()


class FakeBus:
    """Records what it confirms. `refuse(event) -> reason | None`; `stall`: a threading.Event publish waits for
    (then raises, as a broker that never confirmed); `delay`: random pause per call, to interleave relays."""

    def __init__(self, refuse=None, delay: float = 0.0):
        self.refuse = refuse or (lambda e: None)
        self.delay = delay
        self.stall: threading.Event | None = None
        self.stalled = threading.Event()
        self.published: list[Event] = []
        self.lock = threading.Lock()

    def publish_many(self, events: list[Event], timeout: float) -> list[str | None]:
        if self.stall is not None:
            self.stalled.set()
            self.stall.wait(timeout=30)
            raise ConnectionError("broker did not confirm in time")
        if self.delay:
            time.sleep(random.uniform(0, self.delay))
        results = []
        for e in events:
            reason = self.refuse(e)
            if reason is None:
                with self.lock:
                    self.published.append(e)
            results.append(reason)
        return results

    def publish(self, e: Event) -> None:  # what a bus without publish_many offers
        reason = self.publish_many([e], 10)[0]
        if reason is not None:
            raise RuntimeError(reason)


def test_published_events_carry_their_position_as_sequence_and_rows_their_subject(db):
    events = [event("a", 1), event("b", 1), event("a", 2)]
    record(db.session_factory, *events)
    bus = FakeBus()
    assert OutboxRelay(db.session_factory, bus).run_once() == 3
    where = positions(db.session_factory)
    assert [(e.id, e.sequence) for e in bus.published] == [(e.id, where[e.id]) for e in events]
    assert [row(db.session_factory, e.id).subject for e in events] == ["a", "b", "a"]
    assert all(row(db.session_factory, e.id).claimed_by is None for e in events)


def test_two_relays_keep_each_subjects_events_in_order_and_publish_each_once(db):
    """Operators saw a subject's newer state overwritten by an older one when two workers relayed at once."""
    # Few subjects and small batches: the two relays' claims often hold events of the same subjects.
    subjects = [f"s{n:02d}" for n in range(8)]
    rng = random.Random(5)
    for n in range(8):  # one transaction per round: a subject's events are committed in order
        rng.shuffle(subjects)
        record(db.session_factory, *(event(subject, n) for subject in subjects))
    expected = positions(db.session_factory)

    retried: set[str] = set()

    def flaky(e: Event) -> str | None:  # one event in eight is refused once, then accepted
        if int(hashlib.sha256(e.id.encode()).hexdigest(), 16) % 8 or e.id in retried:
            return None
        retried.add(e.id)
        return "refused by the broker"

    bus = FakeBus(refuse=flaky, delay=0.01)
    relays = [OutboxRelay(db.session_factory, bus, batch_size=4) for _ in range(2)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def run(relay: OutboxRelay) -> None:
        try:
            while not stop.is_set():
                if relay.run_once() == 0:
                    time.sleep(0.02)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(bus.published) < len(expected) and time.monotonic() < deadline and not errors:
        time.sleep(0.1)
    time.sleep(0.3)  # anything published twice would show now
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    published_ids = [e.id for e in bus.published]
    assert sorted(published_ids) == sorted(expected), "every event published, none twice"
    by_subject: dict[str, list[int]] = defaultdict(list)
    for e in bus.published:
        by_subject[e.subject].append(expected[e.id])
    assert all(order == sorted(order) for order in by_subject.values()), dict(by_subject)
    assert retried, "some events were refused once"
    assert OutboxRelay(db.session_factory, bus).pending() == 0


def test_a_row_the_broker_refuses_does_not_hold_back_the_rows_recorded_after_it(db):
    """Operators saw one event the broker kept refusing hold back every event recorded after it."""
    refused, others = event("s", 1), [event(f"t{n}", 1) for n in range(3)]
    record(db.session_factory, refused, *others)
    bus = FakeBus(refuse=lambda e: "message refused" if e.id == refused.id else None)
    relay = OutboxRelay(db.session_factory, bus)
    for _ in range(3):
        relay.run_once()
    assert [e.id for e in bus.published] == [e.id for e in others]
    assert row(db.session_factory, refused.id).attempts == 1, "retried after a delay, not on every pass"


def test_a_refused_row_counts_attempts_blocks_only_its_subject_and_is_parked_at_last(db):
    poison, behind, other, another = event("s", 1), event("s", 2), event("t", 1), event("u", 1)
    record(db.session_factory, poison, behind, other, another)
    refusing = {poison.id}
    bus = FakeBus(refuse=lambda e: "message refused: queue full" if e.id in refusing else None)
    relay = OutboxRelay(db.session_factory, bus, max_attempts=3, retry_backoff_seconds=0)

    assert relay.run_once() == 2
    assert [e.id for e in bus.published] == [other.id, another.id]
    refused = row(db.session_factory, poison.id)
    assert refused.attempts == 1 and refused.last_error == "message refused: queue full"
    assert "1979" not in refused.last_error and refused.parked_at is None
    assert row(db.session_factory, behind.id).sent_at is None, "the subject's next event waits, in order"

    relay.run_once()
    assert relay.run_once() == 0
    parked = relay.parked()
    assert [(p.event_id, p.attempts, p.subject) for p in parked] == [(poison.id, 3, "s")]
    assert parked[0].parked_at is not None and Event.from_dict(json.loads(parked[0].payload)).id == poison.id
    assert relay.pending() == 1, "the parked row no longer counts as pending"

    assert relay.run_once() == 1, "once parked, it no longer blocks its subject"
    assert bus.published[-1].id == behind.id

    refusing.clear()
    assert relay.unpark(["not-an-id"]) == 0
    assert relay.unpark([poison.id]) == 1
    assert relay.parked() == [] and row(db.session_factory, poison.id).attempts == 0
    assert relay.run_once() == 1 and bus.published[-1].id == poison.id
    assert relay.pending() == 0


def test_a_refused_row_waits_before_its_next_attempt_while_other_rows_go(db):
    first = event("s", 1)
    record(db.session_factory, first)
    bus = FakeBus(refuse=lambda e: "nack" if e.id == first.id else None)
    relay = OutboxRelay(db.session_factory, bus, retry_backoff_seconds=60)
    assert relay.run_once() == 0
    later = event("t", 1)
    record(db.session_factory, later)
    assert relay.run_once() == 1 and [e.id for e in bus.published] == [later.id]
    assert row(db.session_factory, first.id).attempts == 1, "not retried before its delay"
    assert relay.unpark() == 0, "refused is not parked"


def test_a_row_that_is_not_an_event_is_refused_then_parked_without_blocking_others(db):
    with db.session_factory() as session, session.begin():
        session.execute(OUTBOX.insert().values(event_id="broken", event_type="x", subject="s", payload="{not json"))
    record(db.session_factory, event("t"))
    bus = FakeBus()
    relay = OutboxRelay(db.session_factory, bus, max_attempts=1)
    assert relay.run_once() == 1
    [parked] = relay.parked()
    assert parked.event_id == "broken" and parked.last_error.startswith("not an event")


def test_no_transaction_is_open_while_the_broker_stalls_and_the_relay_reports_it(db):
    """Operators saw a stalled broker freeze every writer of the service: the relay held its rows' locks (and
    SQLite's write lock) while it waited for the broker."""
    waiting = event("a", 1)
    record(db.session_factory, waiting)
    bus = FakeBus()
    bus.stall = threading.Event()
    relay = OutboxRelay(db.session_factory, bus)
    outcome: list = []
    relaying = threading.Thread(target=lambda: outcome.append(relay.run_once()))
    relaying.start()
    try:
        assert bus.stalled.wait(10), "the relay reached the broker"
        _write_quickly(db, waiting.id)  # the row being published, and the database, are free
        writer_engine = make_engine(db.url)
        try:
            record(make_session_factory(writer_engine), event("b", 1))
        finally:
            writer_engine.dispose()
    finally:
        bus.stall.set()
        relaying.join(timeout=30)
    assert outcome == [0]
    assert relay.state == "unavailable"
    assert relay.detail.startswith("broker unavailable since ") and "did not confirm" in relay.detail
    stalled = row(db.session_factory, waiting.id)
    assert stalled.sent_at is None and stalled.attempts == 0 and stalled.claimed_by is None
    bus.stall = None
    assert relay.run_once() == 2 and relay.status() == ("ok", "")


def _write_quickly(db, event_id: str) -> None:
    """Update the row from another connection, giving up after about a second if something holds it."""
    if db.dialect == "sqlite":
        connection = sqlite3.connect(make_url(db.url).database, timeout=1, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE outbox SET attempts = attempts WHERE event_id = ?", (event_id,))
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    engine = make_engine(db.url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
            connection.execute(OUTBOX.update().where(OUTBOX.c.event_id == event_id)
                               .values(attempts=OUTBOX.c.attempts))
    finally:
        engine.dispose()


def test_a_relay_that_outlives_its_lease_lets_another_relay_take_its_rows(db):
    stuck = event("a", 1)
    record(db.session_factory, stuck)
    with db.session_factory() as session, session.begin():  # a relay that died with its claim
        session.execute(OUTBOX.update().values(claimed_by="dead-relay", claimed_until=dt.datetime.now(
            dt.timezone.utc) + dt.timedelta(seconds=60)))
    bus = FakeBus()
    assert OutboxRelay(db.session_factory, bus).run_once() == 0, "its lease keeps others away"
    with db.session_factory() as session, session.begin():
        session.execute(OUTBOX.update().values(claimed_until=dt.datetime.now(dt.timezone.utc)
                                               - dt.timedelta(seconds=1)))
    assert OutboxRelay(db.session_factory, bus).run_once() == 1


# -- databases created by the first version of the kernel's tables -----------------------------------------------
ENV_PY = """import sqlalchemy as sa
from services.migrations import run_env
run_env(sa.MetaData())
"""
REVISION = '''from alembic import op
import services.migrations as kernel
revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
    {upgrade}


def downgrade():
    {downgrade}
'''


@pytest.fixture
def kernel_migrations(tmp_path) -> Path:
    """An Alembic folder holding just what every service's 0001 and 0002 do with the kernel's tables."""
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(ENV_PY)
    (folder / "script.py.mako").write_text("")
    (folder / "versions" / "k0001.py").write_text(REVISION.format(
        rev="0001", down=None, upgrade="kernel.create_kernel_tables(op)",
        downgrade='op.drop_table("inbox")\n    op.drop_table("outbox")'))
    (folder / "versions" / "k0002.py").write_text(REVISION.format(
        rev="0002", down='"0001"', upgrade="kernel.upgrade_kernel_tables_v2(op)",
        downgrade="kernel.downgrade_kernel_tables_v2(op)"))
    return folder


def _alembic(url: str, folder: Path, verb: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from services.db import normalize_url
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    getattr(command, verb)(config, revision)


@pytest.fixture(params=["postgres", "sqlite"])
def empty_url(request, tmp_path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("real_servers").database(f"legacy_{uuid.uuid4().hex[:6]}")
    return f"sqlite:///{tmp_path / 'legacy.sqlite3'}"


def test_rows_waiting_in_a_version_1_outbox_are_published_in_order_after_the_upgrade(empty_url, kernel_migrations):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    _alembic(empty_url, kernel_migrations, "upgrade", "0001")
    engine = make_engine(empty_url)
    waiting = [event("a", 1), event("b", 1), event("a", 2)]
    v1 = sa.table("outbox", sa.column("event_id"), sa.column("event_type"), sa.column("payload"),
                  sa.column("sent_at", sa.DateTime(timezone=True)))
    with engine.begin() as connection:
        connection.execute(v1.insert(), [{"event_id": e.id, "event_type": e.type, "payload": e.to_json()}
                                         for e in waiting])
        connection.execute(v1.insert().values(event_id="old", event_type="x", payload="{}",
                                              sent_at=dt.datetime.now(dt.timezone.utc)))
        connection.execute(v1.insert().values(event_id="garbled", event_type="x", payload="not json"))
    _alembic(empty_url, kernel_migrations, "upgrade", "head")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    session_factory = make_session_factory(engine)
    assert [row(session_factory, e.id).subject for e in waiting] == ["a", "b", "a"]
    assert row(session_factory, "garbled").subject is None
    bus = FakeBus()
    relay = OutboxRelay(session_factory, bus, max_attempts=1)
    assert relay.run_once() == 3
    assert [e.id for e in bus.published] == [e.id for e in waiting]
    assert [p.event_id for p in relay.parked()] == ["garbled"]
    engine.dispose()


def test_the_kernel_tables_version_2_downgrade_and_upgrade_again(empty_url, kernel_migrations):
    _alembic(empty_url, kernel_migrations, "upgrade", "head")
    _alembic(empty_url, kernel_migrations, "downgrade", "0001")
    engine = make_engine(empty_url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "worker_status" not in inspector.get_table_names()
        assert "subject" not in {column["name"] for column in inspector.get_columns("outbox")}
    engine.dispose()
    _alembic(empty_url, kernel_migrations, "upgrade", "head")


def test_record_many_writes_thousands_of_events_in_one_statement(db):
    calls: list[tuple[str, bool]] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, parameters, context,
                    executemany: calls.append((statement, executemany)))
    record(db.session_factory, *(dataclasses.replace(event(f"s{n}"), data={"n": n}) for n in range(3000)))
    inserts = [(s, many) for s, many in calls if s.lstrip().upper().startswith("INSERT INTO OUTBOX")]
    assert inserts and len(inserts) == 1 and inserts[0][1] is True, calls[:3]
    assert OutboxRelay(db.session_factory, FakeBus()).pending() == 3000


def test_with_a_bus_without_publish_many_only_a_nack_counts_against_the_event(db):
    from amqp.exceptions import MessageNacked

    nacked, fine, later = event("s", 1), event("t", 1), event("u", 1)
    record(db.session_factory, nacked, fine)

    class OneByOne:
        def __init__(self, down: bool = False):
            self.down, self.published = down, []

        def publish(self, e: Event) -> None:
            if self.down:
                raise OSError("Connection refused")
            if e.id == nacked.id:
                raise MessageNacked("basic.nack")
            self.published.append(e.id)

    bus = OneByOne()
    relay = OutboxRelay(db.session_factory, bus, retry_backoff_seconds=0)
    assert relay.run_once() == 1 and bus.published == [fine.id]
    assert row(db.session_factory, nacked.id).attempts == 1 and relay.state == "ok"
    record(db.session_factory, later)
    relay.bus = OneByOne(down=True)
    assert relay.run_once() == 0 and relay.state == "unavailable"
    assert row(db.session_factory, nacked.id).attempts == 1, "an outage is not the event's fault"
    assert row(db.session_factory, later.id).attempts == 0
