"""Database plumbing shared by every service: engines, the unit of work, the kernel's tables, migrations.

Each service owns its database. `sqlite:///...` is the embedded default (WAL, so a web process and a worker can
share the file); `postgresql://...` is production. Nothing connects before `make_engine` is called.

Reads and writes on SQLite. In WAL mode a deferred transaction (plain `BEGIN`) reads a snapshot and never waits
for a writer, while a writer must take the write lock up front (`BEGIN IMMEDIATE`): two deferred transactions that
both read then write cannot both upgrade, and SQLite refuses one at once ("database is locked", or
SQLITE_BUSY_SNAPSHOT when its snapshot went stale). So a session from `make_session_factory` is

- a **writer** (`BEGIN IMMEDIATE`, waits up to the busy timeout for the lock) inside `UnitOfWork` and after an
  explicit `session.begin()` (`with session_factory() as session, session.begin(): ...`);
- a **reader** otherwise (`with session_factory() as session: session.execute(select)`): deferred and read-only
  (`PRAGMA query_only`), so a write there fails at once with `ReadOnlyTransactionError`, contended or not, instead
  of waiting or failing only under load.

A bare `engine.connect()` / `engine.begin()` writes (`BEGIN IMMEDIATE`, as migrations need); `read_only(engine)`
gives an engine whose connections read. PostgreSQL is left as it was: its transactions never take a database lock.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, SessionTransactionOrigin, sessionmaker

READ_ONLY = "assmat_read_only"
"""Connection execution option: on SQLite, the connection's transactions are deferred and read-only."""
_QUERY_ONLY = "assmat_query_only"   # the DBAPI connection's current PRAGMA query_only, in its pool record's info
_WRITES = "assmat_writes"           # Session.info flag: every transaction of this session writes (UnitOfWork)
_IDLE_SINCE = "assmat_idle_since"   # when a pooled connection was last given back, in its pool record's info
_SQLITE_READONLY = 8                # sqlite3 primary result code of a write refused by PRAGMA query_only


class ReadOnlyTransactionError(RuntimeError):
    """A write was attempted in a read-only (deferred) SQLite transaction: a programming error, not an outage."""


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever the caller wrote."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, record):
            # WAL lets the web process read while the worker writes; busy_timeout makes a writer wait for the
            # write lock instead of failing (readers never need it).
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            record.info[_QUERY_ONLY] = False
            # pysqlite opens transactions lazily and wrongly for DDL; take control of BEGIN ourselves.
            dbapi_connection.isolation_level = None

        @sa_event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            read_only = bool(connection.get_execution_options().get(READ_ONLY))
            if connection.info.get(_QUERY_ONLY) is not read_only:  # a pooled connection keeps its last setting
                connection.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
                connection.info[_QUERY_ONLY] = read_only
            # A reader's deferred BEGIN never waits for a writer (WAL); a writer's IMMEDIATE takes the write lock up
            # front, so two writers never deadlock on a lock upgrade.
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        @sa_event.listens_for(engine, "handle_error")
        def _write_in_read_only(context):
            original = context.original_exception
            if (getattr(original, "sqlite_errorcode", 0) & 0xFF == _SQLITE_READONLY
                    and context.connection is not None
                    and context.connection.get_execution_options().get(READ_ONLY)):
                verb = (context.statement or "?").split(None, 1)[0]
                raise ReadOnlyTransactionError(
                    f"{verb} in a read-only session: write through UnitOfWork or "
                    "`with session_factory() as session, session.begin():`") from original

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
    ping_after_idle = kwargs.pop("ping_after_idle", PING_AFTER_IDLE_SECONDS)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_after_idle)
    return engine


PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection before use only when it sat idle in the pool longer than `seconds` (a database
    restarted meanwhile would have closed it): pool_pre_ping checks every time, a round trip for every transaction,
    which a busy worker (one transaction per batch) paid over and over for connections used a moment before. A
    connection found dead is replaced (the pool retries with a new one)."""

    @sa_event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa_event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < seconds:  # just connected, or used moments ago
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise sa.exc.DisconnectionError(f"pooled connection unusable: {type(error).__name__}") from error


def read_only(engine: Engine) -> Engine:
    """The same engine (same pool) whose connections only read: on SQLite, deferred and read-only transactions
    that never wait for a writer; elsewhere the option is ignored."""
    return engine.execution_options(**{READ_ONLY: True})


class RoutedSession(Session):
    """A session that reads unless it was told it writes (see the module's docstring).

    The choice is made when a transaction takes its connection (`get_bind`): an explicit `begin()`, or a session
    flagged by `UnitOfWork`, gets the writing engine; an autobegun transaction gets the reading one."""

    def __init__(self, *args, read_bind: Engine | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_bind = read_bind

    def get_bind(self, *args, **kwargs):
        bind = super().get_bind(*args, **kwargs)
        if self._read_bind is None or bind is not self.bind or self.info.get(_WRITES):
            return bind
        transaction = self.get_transaction()
        if transaction is not None and transaction.origin is not SessionTransactionOrigin.AUTOBEGIN:
            return bind
        return self._read_bind


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that read (deferred, read-only on SQLite) unless they run in `UnitOfWork` or after an explicit
    `session.begin()`, which write (`BEGIN IMMEDIATE` on SQLite)."""
    reader = read_only(engine) if engine.dialect.name == "sqlite" else None
    return sessionmaker(bind=engine, class_=RoutedSession, read_bind=reader, expire_on_commit=False, future=True)


class UnitOfWork:
    """A transaction that rolls back unless `commit()` was called (cosmicpython's unit of work).

    It writes: on SQLite its transactions begin with `BEGIN IMMEDIATE` (the write lock is taken at the first
    statement, then held until commit or rollback: keep slow work such as password hashing or network calls out of
    it). `read_only=True` gives handlers that only read a `uow` whose transaction is deferred and never waits for a
    writer; a write there raises `ReadOnlyTransactionError`."""

    def __init__(self, session_factory: sessionmaker[Session], *, read_only: bool = False):
        self._session_factory = session_factory
        self._read_only = read_only
        self.session: Session | None = None
        self._events: list = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        if not self._read_only:
            self.session.info[_WRITES] = True
        self._events = []
        return self

    def __exit__(self, *exc_info) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        assert self.session is not None
        if self._events:
            from services.outbox import record_many
            record_many(self.session, self._events)
            self._events.clear()
        self.session.commit()

    def add_event(self, event) -> None:
        """Record an integration event in this transaction (written to the outbox at commit, in one statement);
        the outbox relay publishes it after commit."""
        self._events.append(event)


_PENDING = sa.text("sent_at IS NULL AND parked_at IS NULL")


def kernel_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The kernel's tables, added to a service's own metadata (one copy per service database): the outbox and the
    inbox (returned), `projection_sequences` (services.ordering) and `worker_status` (services.health), reached
    through `metadata.tables[...]`. Migrations describe each version of them apart (services.migrations)."""
    outbox = sa.Table(
        "outbox", metadata,
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        # The aggregate the event is about: the relay keeps each subject's events in position order.
        sa.Column("subject", sa.Text),
        # A relay's lease on the row while it publishes it, or the time before which a refused row is not retried.
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(200)),
        # Refused too many times: kept for `assmat dlq`, no longer retried and no longer blocking its subject.
        sa.Column("parked_at", sa.DateTime(timezone=True)),
        sa.Index("ix_outbox_unsent", "sent_at", "position"),
        # Partial indexes over the few pending rows: what to claim next, and the earliest pending row of a subject.
        sa.Index("ix_outbox_pending", "position", postgresql_where=_PENDING, sqlite_where=_PENDING),
        sa.Index("ix_outbox_pending_subject", "subject", "position", postgresql_where=_PENDING,
                 sqlite_where=_PENDING),
    )
    inbox = sa.Table(
        "inbox", metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    sa.Table(
        "projection_sequences", metadata,
        sa.Column("stream", sa.String(100), primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sa.Table(
        "worker_status", metadata,
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("consumer_state", sa.String(20), nullable=False),
        sa.Column("consumer_detail", sa.Text),
        sa.Column("relay_state", sa.String(20), nullable=False),
        sa.Column("relay_detail", sa.Text),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    return outbox, inbox


def check_database(engine: Engine) -> None:
    """Readiness: the database answers. A reader, so that a probe never waits behind a writer."""
    with read_only(engine).connect() as connection:
        connection.exec_driver_sql("SELECT 1")


def upgrade(database_url: str, script_location: str) -> None:
    """Bring a service database to the newest migration (`alembic upgrade head`), creating the SQLite file."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    command.upgrade(config, "head")


@contextlib.contextmanager
def migration_context_engine(url: str):
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
