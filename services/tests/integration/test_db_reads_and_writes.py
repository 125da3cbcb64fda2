"""Reads never wait behind a writer, writers never deadlock each other (services.db).

On SQLite a session from `make_session_factory` reads in a deferred, read-only transaction unless it runs in a
UnitOfWork or after an explicit `session.begin()`, which take the write lock up front (`BEGIN IMMEDIATE`).
PostgreSQL behaves as before.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from services.db import (ReadOnlyTransactionError, UnitOfWork, check_database, make_engine, make_session_factory,
                         read_only)

HOLD_SECONDS = 10.0   # how long a test writer holds its lock at most; a read that waited for it took that long
AT_ONCE = 2.0         # "at once" on a busy 2-core machine: far under the hold and the 30 s busy timeout

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                 sa.Column("name", sa.String(50), nullable=False))
counters = sa.Table("counters", metadata, sa.Column("name", sa.String(20), primary_key=True),
                    sa.Column("value", sa.Integer, nullable=False))


def _prepare(engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(items.insert().values(name="committed before"))
        connection.execute(counters.insert().values(name="c", value=0))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'svc.sqlite3'}"


@pytest.fixture
def session_factory(sqlite_url):
    engine = make_engine(sqlite_url)
    _prepare(engine)
    yield make_session_factory(engine)
    engine.dispose()


class HeldWrite:
    """A UnitOfWork in another thread that has written and holds the write lock until released (or HOLD_SECONDS)."""

    def __init__(self, session_factory):
        self.locked, self.release, self.done = threading.Event(), threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, args=(session_factory,), daemon=True)

    def _run(self, session_factory) -> None:
        try:
            with UnitOfWork(session_factory) as uow:
                uow.session.execute(items.insert().values(name="uncommitted"))
                self.locked.set()
                self.release.wait(HOLD_SECONDS)
                uow.commit()
        finally:
            self.done.set()

    def __enter__(self) -> "HeldWrite":
        self.thread.start()
        assert self.locked.wait(10), "the writer did not get its lock"
        return self

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        self.thread.join(HOLD_SECONDS + 5)


WRITER_PROCESS = textwrap.dedent("""
    import select, sys
    import sqlalchemy as sa
    from services.db import UnitOfWork, make_engine, make_session_factory
    items = sa.Table("items", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(50)))
    with UnitOfWork(make_session_factory(make_engine(sys.argv[1]))) as uow:
        uow.session.execute(items.insert().values(name="uncommitted"))
        print("locked", flush=True)
        select.select([sys.stdin], [], [], float(sys.argv[2]))
        uow.commit()
    print("committed", flush=True)
""")


def names(session) -> list[str]:
    return session.execute(sa.select(items.c.name).order_by(items.c.id)).scalars().all()


# -- SQLite ------------------------------------------------------------------------------------------------------

def test_a_read_through_the_session_factory_returns_at_once_while_a_writer_holds_the_lock(session_factory):
    with HeldWrite(session_factory) as writer:
        started = time.monotonic()
        with session_factory() as session:
            seen = names(session)
        elapsed = time.monotonic() - started
        writer_still_holding = not writer.done.is_set()
    assert writer_still_holding and elapsed < AT_ONCE, f"the read waited {elapsed:.1f} s for the writer"
    assert seen == ["committed before"]  # the snapshot before the writer's uncommitted row
    with session_factory() as session:
        assert names(session) == ["committed before", "uncommitted"]


def test_a_read_returns_at_once_while_another_process_holds_the_write_lock(session_factory, sqlite_url):
    writer = subprocess.Popen([sys.executable, "-c", WRITER_PROCESS, sqlite_url, str(HOLD_SECONDS)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with session_factory() as session:
            seen = names(session)
        elapsed = time.monotonic() - started
        writer_still_holding = writer.poll() is None
        writer.stdin.close()
        assert writer.stdout.readline().strip() == "committed"
    finally:
        writer.kill()
        writer.wait()
    assert writer_still_holding and elapsed < AT_ONCE, f"the read waited {elapsed:.1f} s for the other process"
    assert seen == ["committed before"]


def test_readiness_and_read_only_uow_do_not_wait_for_a_writer(session_factory):
    engine = session_factory.kw["bind"]
    with HeldWrite(session_factory) as writer:
        started = time.monotonic()
        check_database(engine)
        with read_only(engine).connect() as connection:
            connection.execute(sa.select(items.c.name)).all()
        with UnitOfWork(session_factory, read_only=True) as uow:
            names(uow.session)
        elapsed = time.monotonic() - started
        writer_still_holding = not writer.done.is_set()
    assert writer_still_holding and elapsed < AT_ONCE, f"the reads waited {elapsed:.1f} s for the writer"


def test_concurrent_writers_through_unit_of_work_all_succeed_without_losing_an_update(session_factory):
    """Each reads the counter, pauses, then writes it back plus one: deferred transactions would collide on the lock
    upgrade (one refused at once with "database is locked"); IMMEDIATE ones queue and none is lost."""
    writers, errors, start = 4, [], threading.Barrier(4)

    def increment() -> None:
        try:
            start.wait(10)
            with UnitOfWork(session_factory) as uow:
                value = uow.session.execute(sa.select(counters.c.value).where(counters.c.name == "c")).scalar_one()
                time.sleep(0.2)
                uow.session.execute(counters.update().where(counters.c.name == "c").values(value=value + 1))
                uow.commit()
        except Exception as error:  # collected: an assertion in a thread would not fail the test
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with session_factory() as session:
        assert session.execute(sa.select(counters.c.value)).scalar_one() == writers


def test_a_write_in_a_read_session_fails_at_once_and_loudly_even_while_a_writer_holds_the_lock(session_factory):
    with HeldWrite(session_factory) as writer:
        started = time.monotonic()
        with session_factory() as session, pytest.raises(ReadOnlyTransactionError, match="UnitOfWork"):
            session.execute(items.insert().values(name="from a read session"))
            session.commit()
        elapsed = time.monotonic() - started
        writer_still_holding = not writer.done.is_set()
    assert writer_still_holding and elapsed < AT_ONCE, f"the refused write waited {elapsed:.1f} s"
    with session_factory() as session:
        assert "from a read session" not in names(session)


def test_a_write_after_a_read_whose_snapshot_went_stale_is_refused_not_busy(session_factory):
    """The case WAL answers with SQLITE_BUSY_SNAPSHOT for a deferred transaction: here it never upgrades, so the
    write is refused by the read-only session, clearly, whatever happened meanwhile."""
    with session_factory() as session:
        assert names(session) == ["committed before"]
        with UnitOfWork(session_factory) as uow:
            uow.session.execute(items.insert().values(name="committed meanwhile"))
            uow.commit()
        with pytest.raises(ReadOnlyTransactionError):
            session.execute(items.insert().values(name="stale"))
    with session_factory() as session:
        assert names(session) == ["committed before", "committed meanwhile"]


def test_explicit_begin_and_unit_of_work_take_the_write_lock_and_plain_sessions_do_not(session_factory, sqlite_url):
    path = sqlite_url.removeprefix("sqlite:///")

    def other_writer_can_lock() -> bool:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return False
        finally:
            probe.close()

    with session_factory() as session:
        names(session)
        assert other_writer_can_lock()
    with session_factory() as session, session.begin():
        names(session)
        assert not other_writer_can_lock()
    with UnitOfWork(session_factory) as uow:
        names(uow.session)
        assert not other_writer_can_lock()
        uow.commit()
        names(uow.session)  # a UnitOfWork's next transaction writes too
        assert not other_writer_can_lock()
    with UnitOfWork(session_factory, read_only=True) as uow:
        names(uow.session)
        assert other_writer_can_lock()
    with make_engine(sqlite_url).connect() as connection:  # a bare connection writes, as migrations need
        connection.execute(sa.select(items.c.name)).all()
        assert not other_writer_can_lock()


def test_one_pooled_connection_alternates_between_reading_and_writing(sqlite_url):
    engine = make_engine(sqlite_url, pool_size=1, max_overflow=0)
    _prepare(engine)
    session_factory = make_session_factory(engine)
    for round_ in range(2):
        with session_factory() as session:
            assert len(names(session)) == 1 + 2 * round_
        with session_factory() as session, session.begin():
            session.execute(items.insert().values(name=f"begin {round_}"))
        with pytest.raises(ReadOnlyTransactionError), session_factory() as session:
            session.execute(items.insert().values(name="refused"))
        with UnitOfWork(session_factory) as uow:
            uow.session.execute(items.insert().values(name=f"uow {round_}"))
            uow.commit()
    engine.dispose()


# -- PostgreSQL: unaffected --------------------------------------------------------------------------------------

@pytest.fixture
def pg_session_factory(real_servers):
    engine = make_engine(real_servers.database(f"db_{uuid.uuid4().hex[:6]}"))
    _prepare(engine)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: statements.append(statement))
    yield make_session_factory(engine), statements
    engine.dispose()


def test_postgresql_sessions_behave_as_before(pg_session_factory):
    session_factory, statements = pg_session_factory
    with HeldWrite(session_factory) as writer:
        started = time.monotonic()
        with session_factory() as session:
            assert names(session) == ["committed before"]
        assert not writer.done.is_set() and time.monotonic() - started < AT_ONCE
    with session_factory() as session:  # no read-only mode here: a plain session still writes
        session.execute(items.insert().values(name="plain"))
        session.commit()
    with session_factory() as session:
        assert names(session) == ["committed before", "uncommitted", "plain"]
    assert not [s for s in statements if "PRAGMA" in s or "IMMEDIATE" in s]


def test_postgresql_concurrent_writers_through_unit_of_work_all_succeed(pg_session_factory):
    session_factory, _ = pg_session_factory
    errors = []

    def increment() -> None:
        try:
            with UnitOfWork(session_factory) as uow:
                uow.session.execute(counters.update().where(counters.c.name == "c")
                                    .values(value=counters.c.value + 1))
                uow.commit()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with session_factory() as session:
        assert session.execute(sa.select(counters.c.value)).scalar_one() == 4


def test_a_pooled_connection_is_checked_only_after_sitting_idle_and_replaced_when_dead(real_servers):
    """A busy worker used to pay a round trip per transaction to check a connection used a moment before; one that
    sat idle (a database restart may have closed it) is still checked, and replaced when dead."""
    url = real_servers.database(f"ping_{uuid.uuid4().hex[:6]}")
    engine = make_engine(url, ping_after_idle=0.5)
    pings = []
    do_ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(1) or do_ping(dbapi_connection)
    session_factory = make_session_factory(engine)

    def backend() -> int:
        with session_factory() as session:
            return session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()

    first = backend()
    assert backend() == first and pings == [], "used a moment before: no check"
    admin = sa.create_engine(real_servers.postgres_url.replace("postgresql://", "postgresql+psycopg://"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    time.sleep(0.7)
    assert backend() != first and pings == [1], "idle, checked, found dead, replaced: the query still works"
    engine.dispose()
