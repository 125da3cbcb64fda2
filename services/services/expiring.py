"""A small store of expiring keys shared by every process of a service: counters for throttling, single-use values
(captcha answers, FranceConnect state), server-side browser sessions.

Two backends behind one interface, chosen by URL:

- `redis://host:6379/0` where a Redis is configured (production: one store for all replicas, nothing on disk);
- a SQLAlchemy URL (`sqlite:////abs/file`, `postgresql://...`) otherwise: the embedded default uses the service's
  own database, so throttling holds across the web processes without a server to install.

Every operation is atomic on its own (an `INSERT ... ON CONFLICT ... RETURNING` in SQL, one command or a
MULTI/EXEC in Redis), so two processes counting the same key never lose a hit, and `take` hands a value to one
caller only. Keys are prefixed by a namespace (a service, a test run) so that stores sharing a server never mix.
Time is the store's caller's: tests move it forward through `now`.
"""
from __future__ import annotations

import time
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

KEY_MAX_LENGTH = 200

_metadata = sa.MetaData()
expiring_keys = sa.Table(
    "kernel_expiring_keys", _metadata,
    sa.Column("key", sa.String(KEY_MAX_LENGTH), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("counter", sa.BigInteger, nullable=False, default=0),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),  # unix seconds
)


class ExpiringStore(Protocol):
    def hit(self, key: str, window_seconds: float, now: float | None = None) -> int:
        """Count one more event in the key's window (a fixed window opened by its first hit); return the count."""

    def count(self, key: str, now: float | None = None) -> int:
        """The key's count in its current window (0 when none is open)."""

    def put(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> None:
        """Set a value that disappears after `ttl_seconds` (replacing any earlier value and count)."""

    def replace(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> bool:
        """Like `put`, but only while the key exists and has not expired; False (nothing written) otherwise. What
        a deleted key must not come back from: a browser session written by a request in flight at its logout."""

    def get(self, key: str, now: float | None = None) -> str | None:
        ...

    def take(self, key: str, now: float | None = None) -> str | None:
        """Get and delete in one step: of two callers, one gets the value and the other None."""

    def delete(self, key: str) -> None:
        ...

    def purge(self, now: float | None = None) -> int:
        """Remove expired keys (Redis does it by itself); return how many went."""


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > KEY_MAX_LENGTH:
        raise ValueError("a store key is a non-empty string of at most 200 characters")
    return key


class SqlExpiringStore:
    """The store in a table of the service's own database (created on first use: it is the kernel's, not a
    domain table, and holds nothing that outlives its expiry)."""

    def __init__(self, engine: Engine, namespace: str = ""):
        self._engine = engine
        self._namespace = namespace
        self._dialect = engine.dialect.name
        _metadata.create_all(engine, checkfirst=True)

    def _key(self, key: str) -> str:
        return _check_key(f"{self._namespace}:{key}" if self._namespace else key)

    def _insert(self):
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self._dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the portal runs on these two
            raise RuntimeError(f"no expiring store for {self._dialect}")
        return insert(expiring_keys)

    def hit(self, key: str, window_seconds: float, now: float | None = None) -> int:
        now = time.time() if now is None else now
        table = expiring_keys
        statement = self._insert().values(key=self._key(key), value=None, counter=1,
                                          expires_at=now + window_seconds)
        excluded = statement.excluded
        expired = table.c.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"counter": sa.case((expired, 1), else_=table.c.counter + 1),
                  "expires_at": sa.case((expired, excluded.expires_at), else_=table.c.expires_at),
                  "value": sa.case((expired, None), else_=table.c.value)},
        ).returning(table.c.counter)
        with self._engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def count(self, key: str, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._engine.connect() as connection:
            counter = connection.execute(sa.select(expiring_keys.c.counter).where(
                expiring_keys.c.key == self._key(key), expiring_keys.c.expires_at > now)).scalar()
        return int(counter or 0)

    def put(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        statement = self._insert().values(key=self._key(key), value=value, counter=0, expires_at=now + ttl_seconds)
        statement = statement.on_conflict_do_update(
            index_elements=[expiring_keys.c.key],
            set_={"value": statement.excluded.value, "counter": 0, "expires_at": statement.excluded.expires_at})
        with self._engine.begin() as connection:
            connection.execute(statement)

    def replace(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        statement = (expiring_keys.update()
                     .where(expiring_keys.c.key == self._key(key), expiring_keys.c.expires_at > now)
                     .values(value=value, counter=0, expires_at=now + ttl_seconds))
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def get(self, key: str, now: float | None = None) -> str | None:
        now = time.time() if now is None else now
        with self._engine.connect() as connection:
            return connection.execute(sa.select(expiring_keys.c.value).where(
                expiring_keys.c.key == self._key(key), expiring_keys.c.expires_at > now)).scalar()

    def take(self, key: str, now: float | None = None) -> str | None:
        now = time.time() if now is None else now
        statement = (expiring_keys.delete().where(expiring_keys.c.key == self._key(key))
                     .returning(expiring_keys.c.value, expiring_keys.c.expires_at))
        with self._engine.begin() as connection:
            row = connection.execute(statement).first()
        if row is None or row.expires_at <= now:
            return None
        return row.value

    def delete(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(expiring_keys.delete().where(expiring_keys.c.key == self._key(key)))

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._engine.begin() as connection:
            return connection.execute(expiring_keys.delete().where(expiring_keys.c.expires_at <= now)).rowcount


class RedisExpiringStore:
    """The store in Redis. Redis expires keys on its own clock; `now` only matters to the SQL backend's tests, so
    here a caller-given `now` is accepted and ignored (windows and TTLs are always measured by Redis)."""

    def __init__(self, url: str, namespace: str = ""):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._namespace = namespace

    def _key(self, key: str) -> str:
        return _check_key(f"{self._namespace}:{key}" if self._namespace else key)

    def hit(self, key: str, window_seconds: float, now: float | None = None) -> int:
        name = self._key(key)
        milliseconds = max(1, int(window_seconds * 1000))
        with self._redis.pipeline(transaction=True) as pipe:
            # The hash holds the counter; PEXPIRE NX opens the window on the first hit only.
            pipe.hincrby(name, "counter", 1)
            pipe.pexpire(name, milliseconds, nx=True)
            counter, _ = pipe.execute()
        return int(counter)

    def count(self, key: str, now: float | None = None) -> int:
        return int(self._redis.hget(self._key(key), "counter") or 0)

    def put(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> None:
        name = self._key(key)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            pipe.hset(name, "value", value)
            pipe.pexpire(name, max(1, int(ttl_seconds * 1000)))
            pipe.execute()

    # One script, so that no DEL can slip between the existence check and the write.
    _REPLACE = """
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], 'value', ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
    """

    def replace(self, key: str, value: str, ttl_seconds: float, now: float | None = None) -> bool:
        milliseconds = max(1, int(ttl_seconds * 1000))
        return bool(self._redis.eval(self._REPLACE, 1, self._key(key), value, milliseconds))

    def get(self, key: str, now: float | None = None) -> str | None:
        value = self._redis.hget(self._key(key), "value")
        return value.decode() if value is not None else None

    def take(self, key: str, now: float | None = None) -> str | None:
        name = self._key(key)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(name, "value")
            pipe.delete(name)
            value, _ = pipe.execute()
        return value.decode() if value is not None else None

    def delete(self, key: str) -> None:
        self._redis.delete(self._key(key))

    def purge(self, now: float | None = None) -> int:
        return 0  # Redis expires keys itself


def open_store(url: str, namespace: str = "", engine: Engine | None = None) -> ExpiringStore:
    """`redis://` or `rediss://` → Redis; any other URL → the SQL table (reusing `engine` when it is the service's
    own database, so the embedded default opens no second pool)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisExpiringStore(url, namespace)
    if engine is None:
        from services.db import make_engine
        engine = make_engine(url)
    elif make_url(str(engine.url)).get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"no expiring store for {engine.url}")
    return SqlExpiringStore(engine, namespace)
