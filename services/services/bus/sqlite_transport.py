"""A kombu virtual transport on one SQLite file, safe to share between processes.

It backs the bus in "embedded" mode, where no RabbitMQ is installed. Every process (and every channel)
opens its own connection to the same database file; everything a broker keeps - messages, queues,
exchanges and bindings - lives in that file, so a binding made by one process routes the messages
another process publishes.

URL
    ``sqlitebus:////absolute/path/bus.sqlite3`` - four slashes: kombu parses the URL like an http one
    with an empty host and passes its path, minus the leading slash, as the virtual host, which is the
    database path here: ``/absolute/path/bus.sqlite3``. Equivalently:
    ``Connection(transport='sqlitebus', virtual_host='/absolute/path/bus.sqlite3')``. A relative path
    (``sqlitebus:///bus.sqlite3``), no path, or a path naming a directory raises ``ValueError`` when the
    connection is established; a missing parent directory is created.
    Call :func:`register` in each process before using the URL: kombu only knows the alias from then on.

Transport options
    ``visibility_timeout`` (seconds, default 30): how long a delivered, unacknowledged message stays
    leased to its consumer. If the consumer dies, the message is delivered again once the lease expires,
    so this must exceed the longest processing time. ``busy_timeout`` (seconds, default 10): how long a
    writer waits for another process's write lock. ``polling_interval`` (seconds, default 0.1): sleep
    between polls of empty queues. kombu's own ``deadletter_queue`` and ``body_encoding`` also apply.

Semantics
    * Delivery is at least once: delivering a message leases its row (``lease_until`` and a fresh
      ``delivery_tag``) in the same statement that picks it, so two consumers never hold the same message;
      ack deletes the row; reject with requeue, ``basic_recover`` and closing the channel release the lease;
      an expired lease makes the message visible again, flagged ``delivery_info['redelivered']``.
      ``Connection.heartbeat_check()`` renews the leases of the messages a connection holds, so a consumer
      that keeps calling it (as an AMQP consumer keeps its heartbeats) keeps them however long it works.
    * direct, topic and fanout exchanges route through the shared ``bindings`` table. A message that
      matches no binding goes to the exchange's ``alternate-exchange`` (an exchange argument, as on RabbitMQ)
      when it has one, else it is dropped, and so is one sent through the default exchange to an undeclared
      queue, as AMQP does; published with ``mandatory=True``, such a message raises :class:`PublishRefused`.
    * A queue declared with ``x-message-ttl`` and ``x-dead-letter-exchange`` is a delay queue, RabbitMQ's
      retry pattern: a message sent to it is stored straight in its dead-letter destination (the queue named
      ``x-dead-letter-routing-key`` when the exchange is ``""``, else the queues that exchange routes that
      key to, resolved at publish time), invisible for the ttl. The delay queue itself stays empty.
    * ``x-delivery-limit`` (with ``x-dead-letter-exchange``/``-routing-key``), as on a RabbitMQ quorum queue:
      a message delivered more than the limit plus one times without being acknowledged (its consumer died,
      or returned it) goes to the dead-letter destination instead of being delivered again, with the headers
      RabbitMQ adds (``x-death``, ``x-first-death-reason: delivery_limit``).
    * ``x-max-length`` with ``x-overflow: reject-publish``: a publish to a full queue raises
      :class:`PublishRefused` (RabbitMQ nacks it) after storing the message in the other queues it routes to.
    * :meth:`Channel.batch` runs several publishes or acks in one SQLite transaction.

Limitations: no priorities, per-message expiration, auto-delete/exclusive queues, ``x-max-length`` other
than with ``reject-publish``, or headers exchanges (unsupported queue arguments are logged and ignored).
Messages leave a queue in order of visibility time; a requeued message keeps its place, and one whose lease
expired goes first. Timestamps are wall-clock, shared by the processes of one host: a clock jump shifts leases
and delays. All processes must reach the file through a local filesystem (SQLite's WAL mode does not work over
NFS). A bus file made before exchanges had arguments is upgraded in place when a process connects.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from json import dumps, loads
from pathlib import Path
from queue import Empty
from time import time

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, virtual
from kombu.transport.base import to_rabbitmq_queue_arguments
from kombu.transport.virtual.base import NOT_EQUIVALENT_FMT, NotEquivalentError
from kombu.utils.uuid import uuid

log = logging.getLogger(__name__)

ALIAS = 'sqlitebus'

_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    visible_at REAL NOT NULL,
    lease_until REAL,
    delivery_tag TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0
);
-- Two partial indexes, so that finding the next message is two O(log n) probes whatever the backlog:
-- waiting messages in queue order, and leased ones by expiry.
CREATE INDEX IF NOT EXISTS messages_waiting ON messages (queue, visible_at) WHERE lease_until IS NULL;
CREATE INDEX IF NOT EXISTS messages_leased ON messages (queue, lease_until) WHERE lease_until IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS messages_tag ON messages (delivery_tag) WHERE delivery_tag IS NOT NULL;
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, arguments TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exchanges (name TEXT PRIMARY KEY, type TEXT NOT NULL, durable INTEGER NOT NULL,
                                      arguments TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS bindings (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, queue)
);
CREATE INDEX IF NOT EXISTS bindings_queue ON bindings (queue);
COMMIT;
"""

# Expired leases first, as RabbitMQ puts a message back at the head of its queue when its consumer dies.
_NEXT_ID = """coalesce(
    (SELECT id FROM messages WHERE queue = :queue AND lease_until <= :now ORDER BY lease_until LIMIT 1),
    (SELECT id FROM messages WHERE queue = :queue AND lease_until IS NULL AND visible_at <= :now
     ORDER BY visible_at, id LIMIT 1))"""

# A single UPDATE takes SQLite's write lock before it reads, so picking and leasing cannot interleave
# with another process doing the same.
_LEASE = f"""UPDATE messages SET lease_until = :lease, delivery_tag = :tag, deliveries = deliveries + 1
WHERE id = {_NEXT_ID} RETURNING payload, deliveries"""
_TAKE = f"DELETE FROM messages WHERE id = {_NEXT_ID} RETURNING payload, deliveries + 1"
_RELEASE = 'UPDATE messages SET lease_until = NULL, delivery_tag = NULL WHERE delivery_tag = ?'
# Each partial index counts its half of a queue.
_COUNT = ('SELECT (SELECT count(*) FROM messages WHERE queue = :queue AND lease_until IS NULL)'
          ' + (SELECT count(*) FROM messages WHERE queue = :queue AND lease_until IS NOT NULL)')

_DELAY_ARGUMENTS = {'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key'}
_DEAD_LETTER_ARGUMENTS = {'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-delivery-limit'}
_LENGTH_ARGUMENTS = {'x-max-length', 'x-overflow'}
# Meaningful to RabbitMQ only: every queue here is equally durable, dead-lettering here is always at least once,
# and a test run's bus file goes with its folder (x-expires only keeps a shared broker tidy).
_HARMLESS_ARGUMENTS = {'x-queue-type', 'x-expires', 'x-dead-letter-strategy'}
# How long a message whose dead-letter destination is full waits before the next attempt to move it.
_DEAD_LETTER_BACKOFF = 5.0


class PublishRefused(Exception):
    """A message was not stored where it was sent: a queue is full (``x-overflow: reject-publish``), or nothing
    routes it and it was published with ``mandatory=True``. RabbitMQ nacks or returns such a message."""


def _discards(arguments: dict) -> bool:
    """A queue of length 0 that drops its head keeps nothing: what is routed to it is accepted and forgotten."""
    return arguments.get('x-max-length') == 0 and arguments.get('x-overflow', 'drop-head') == 'drop-head'


def register() -> None:
    """Make ``sqlitebus://`` URLs resolve to this transport."""
    TRANSPORT_ALIASES[ALIAS] = f'{__name__}:Transport'


def database_path(virtual_host: str | None) -> Path:
    """The database file named by a connection's virtual host; creates its directory."""
    path = Path(virtual_host or '')
    if not path.is_absolute() or path.is_dir():
        raise ValueError(
            f'{ALIAS} needs an absolute path to a database file, as in '
            f'{ALIAS}:////var/lib/app/bus.sqlite3 (four slashes); got {virtual_host!r}')
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a bus file made by an older version of this module up to the current schema, in place."""
    if 'arguments' in {row[1] for row in db.execute('PRAGMA table_info(exchanges)')}:
        return
    db.execute('BEGIN IMMEDIATE')
    try:
        # Checked again under the write lock: another process may have upgraded the file meanwhile.
        if 'arguments' not in {row[1] for row in db.execute('PRAGMA table_info(exchanges)')}:
            db.execute("ALTER TABLE exchanges ADD COLUMN arguments TEXT NOT NULL DEFAULT '{}'")
    except BaseException:
        db.execute('ROLLBACK')
        raise
    db.execute('COMMIT')


class QoS(virtual.QoS):
    """Acks settle rows in the database; the in-memory bookkeeping only serves prefetch limits."""

    def ack(self, delivery_tag):
        self.channel._execute('DELETE FROM messages WHERE delivery_tag = ?', (delivery_tag,))
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if requeue:
            self.channel._execute(_RELEASE, (delivery_tag,))
        else:
            self.channel._execute('DELETE FROM messages WHERE delivery_tag = ?', (delivery_tag,))
        # Not super().reject(): it would publish a second copy while the leased row still exists.
        super().ack(delivery_tag)

    def held_tags(self) -> list[str]:
        """Delivery tags of the messages delivered and not yet settled."""
        for _ in range(3):
            try:  # acks may come from another thread: retry a copy that raced with one
                return [tag for tag in list(self._delivered) if tag not in self._dirty]
            except RuntimeError:
                continue
        return []

    def restore_unacked(self):
        self._flush()
        tags = [(tag,) for tag in self._delivered]
        self._delivered.clear()
        try:
            with self.channel._transaction() as db:
                db.executemany(_RELEASE, tags)
        except sqlite3.Error as exc:
            # Nothing to dump: the rows are still in the database and come back when their leases expire.
            log.warning('could not release %d leased message(s) early: %s', len(tags), exc)
        return []


class Channel(virtual.Channel):
    QoS = QoS
    supports_fanout = True
    visibility_timeout = 30.0
    busy_timeout = 10.0
    from_transport_options = virtual.Channel.from_transport_options + ('visibility_timeout', 'busy_timeout')

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self._path = database_path(connection.client.virtual_host)
        # One sqlite3 connection per channel; kombu may ack from another thread than the consuming one.
        self._lock = threading.RLock()
        self._db = None
        self._db_pid = None
        self._batch_depth = 0
        self._renewed_at = time()
        self._no_ack_queues = set()
        self._connect()

    # -- database access ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # A connection inherited through fork() must not be used: SQLite's locks belong to the parent.
        if self._db is None or self._db_pid != os.getpid():
            db = sqlite3.connect(self._path, timeout=self.busy_timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute('PRAGMA journal_mode=WAL')
            # In WAL mode this survives a crashed process; only a power loss can drop the last commits.
            db.execute('PRAGMA synchronous=NORMAL')
            db.executescript(_SCHEMA)
            _upgrade(db)
            self._db, self._db_pid, self._batch_depth = db, os.getpid(), 0
        return self._db

    def _execute(self, sql, params=()) -> list:
        # fetchall() also finishes the statement, which is what commits an UPDATE ... RETURNING.
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self):
        with self._lock:
            db = self._connect()
            if self._batch_depth:  # part of the enclosing batch's transaction
                yield db
                return
            db.execute('BEGIN IMMEDIATE')
            try:
                yield db
            except BaseException:
                db.execute('ROLLBACK')
                raise
            db.execute('COMMIT')

    @contextmanager
    def batch(self):
        """Run the publishes, acks and rejects made inside in one transaction: all or none of them persist,
        for the cost of one commit. Other threads using this channel wait until the batch ends."""
        with self._lock:
            db = self._connect()
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield
                finally:
                    self._batch_depth -= 1
                return
            db.execute('BEGIN IMMEDIATE')
            self._batch_depth = 1
            try:
                yield
            except BaseException:
                self._batch_depth = 0
                db.execute('ROLLBACK')
                raise
            self._batch_depth = 0
            db.execute('COMMIT')

    def close(self):
        super().close()  # releases unacked messages first, which needs the database
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- messages -------------------------------------------------------------------------------------
    def _get(self, queue, timeout=None, no_ack=None):
        if no_ack is None:
            no_ack = queue in self._no_ack_queues
        while True:
            now, tag = time(), uuid()
            rows = self._execute(_TAKE if no_ack else _LEASE, {
                'queue': queue, 'now': now, 'lease': now + float(self.visibility_timeout), 'tag': tag})
            if not rows:
                raise Empty()
            payload, deliveries = rows[0]
            message = loads(payload)
            # Only a redelivery can exceed a delivery limit: the first one costs nothing more.
            if deliveries > 1 and self._over_delivery_limit(queue, deliveries):
                self._dead_letter_over_limit(queue, message, deliveries, None if no_ack else tag)
                continue
            break
        # A tag per lease: an ack arriving after the lease passed to another consumer deletes nothing.
        message['properties']['delivery_tag'] = tag
        message['properties']['delivery_info']['redelivered'] = deliveries > 1
        return message

    def _queue_arguments(self, queue) -> dict | None:
        rows = self._execute('SELECT arguments FROM queues WHERE name = ?', (queue,))
        return loads(rows[0][0]) if rows else None

    def _over_delivery_limit(self, queue, deliveries) -> bool:
        limit = (self._queue_arguments(queue) or {}).get('x-delivery-limit')
        # RabbitMQ counts returns: a message delivered limit + 1 times and returned again is dead-lettered.
        return limit is not None and deliveries - 1 > int(limit)

    def _dead_letter_over_limit(self, queue, message, deliveries, tag) -> None:
        """Move a message delivered too often to its queue's dead-letter destination (or drop it if it has none,
        as RabbitMQ does). `tag` is the lease just taken on it, None if the row is already deleted (no-ack)."""
        arguments = self._queue_arguments(queue) or {}
        info = message['properties']['delivery_info']
        exchange = arguments.get('x-dead-letter-exchange')
        routing_key = arguments.get('x-dead-letter-routing-key') or info.get('routing_key') or ''
        now = time()
        with self._transaction() as db:
            targets = [] if exchange is None else (
                [routing_key] if exchange == '' else self._lookup(exchange, routing_key))
            full = [target for target in targets if self._is_full(db, target)]
            if full and tag is not None:
                # At least once: keep it here, out of sight, until its destination has room again.
                log.warning('%s: dead-letter queue(s) %s full; message of %r kept back', ALIAS, full, queue)
                db.execute('UPDATE messages SET lease_until = NULL, delivery_tag = NULL,'
                           ' deliveries = deliveries - 1, visible_at = ? WHERE delivery_tag = ?',
                           (now + _DEAD_LETTER_BACKOFF, tag))
                return
            death = {'count': 1, 'reason': 'delivery_limit', 'queue': queue, 'exchange': info.get('exchange', ''),
                     'routing-keys': [info.get('routing_key', '')],
                     'time': datetime.fromtimestamp(now, timezone.utc).isoformat(timespec='seconds')}
            headers = {**(message.get('headers') or {}), 'x-delivery-count': deliveries - 1,
                       'x-death': [death] + list((message.get('headers') or {}).get('x-death') or []),
                       'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': queue,
                       'x-first-death-exchange': info.get('exchange', '')}
            dead = {**message, 'headers': headers, 'properties': {**message['properties'], 'delivery_info': {
                **info, 'exchange': exchange or '', 'routing_key': routing_key}}}
            log.warning('%s: message of %r delivered %d times without an ack, dead-lettered to %s',
                        ALIAS, queue, deliveries, targets or 'nowhere (no x-dead-letter-exchange)')
            if tag is not None:
                db.execute('DELETE FROM messages WHERE delivery_tag = ?', (tag,))
            self._insert(db, [target for target in targets if target not in full], dead, now)

    def _insert(self, db, queues, message, visible_at) -> None:
        payload = dumps(message)
        db.executemany('INSERT INTO messages (queue, payload, visible_at) VALUES (?, ?, ?)',
                       [(queue, payload, visible_at) for queue in queues])

    def _is_full(self, db, queue, arguments=None) -> bool:
        if arguments is None:
            rows = db.execute('SELECT arguments FROM queues WHERE name = ?', (queue,)).fetchall()
            arguments = loads(rows[0][0]) if rows else {}
        limit = arguments.get('x-max-length')
        if limit is None or arguments.get('x-overflow') != 'reject-publish':
            return False
        return db.execute(_COUNT, {'queue': queue}).fetchone()[0] >= int(limit)

    def _store(self, queues, message, mandatory=False) -> None:
        """Store `message` in each of `queues` (delay queues resolved to their destination), in one transaction.
        Raises PublishRefused, after storing it in the others, when one of them is full; or when it is stored
        nowhere and `mandatory`."""
        now = time()
        with self._transaction() as db:
            stored, refused = 0, []
            for queue in queues:
                rows = db.execute('SELECT arguments FROM queues WHERE name = ?', (queue,)).fetchall()
                if not rows:
                    continue
                arguments = loads(rows[0][0])
                if _discards(arguments):  # routed, then dropped at once, as RabbitMQ does with a length of 0
                    stored += 1
                    continue
                visible_at, targets, delivered = now, [queue], message
                if 'x-message-ttl' in arguments and 'x-dead-letter-exchange' in arguments:
                    exchange = arguments['x-dead-letter-exchange']
                    info = message['properties']['delivery_info']
                    routing_key = arguments.get('x-dead-letter-routing-key') or info['routing_key']
                    targets = [routing_key] if exchange == '' else self._lookup(exchange, routing_key)
                    visible_at += arguments['x-message-ttl'] / 1000
                    # What RabbitMQ shows after dead-lettering: the dead-letter exchange and routing key.
                    delivered = {**message, 'properties': {**message['properties'], 'delivery_info': {
                        **info, 'exchange': exchange, 'routing_key': routing_key}}}
                for target in targets:
                    if self._is_full(db, target, arguments if target == queue else None):
                        refused.append(target)
                    else:
                        self._insert(db, [target], delivered, visible_at)
                        stored += 1
        if refused:
            raise PublishRefused(f'reject-publish: queue(s) {", ".join(refused)} full')
        if mandatory and not stored:
            raise PublishRefused(f'NO_ROUTE: no queue {", ".join(queues) or "at all"}')

    def basic_publish(self, message, exchange, routing_key, mandatory=False, **kwargs):
        self._inplace_augment_message(message, exchange, routing_key)
        queues = self._lookup(exchange, routing_key) if exchange else [routing_key]
        if not queues and mandatory:
            raise PublishRefused(f'NO_ROUTE: exchange {exchange!r} routes nothing with key {routing_key!r}')
        self._store(queues, message, mandatory=mandatory)

    def _put(self, queue, message, **kwargs):
        self._store([queue], message)

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        self._store(self._lookup(exchange, routing_key), message)

    def _size(self, queue):
        now = time()
        return self._execute(
            'SELECT (SELECT count(*) FROM messages WHERE queue = ? AND lease_until IS NULL AND visible_at <= ?)'
            ' + (SELECT count(*) FROM messages WHERE queue = ? AND lease_until <= ?)',
            (queue, now, queue, now))[0][0]

    def _purge(self, queue):
        with self._transaction() as db:
            return db.execute('DELETE FROM messages WHERE queue = ?'
                              ' AND (lease_until IS NULL OR lease_until <= ?)', (queue, time())).rowcount

    def renew_leases(self, force=False) -> int:
        """Extend the leases of the messages this channel holds by a visibility timeout. Done at most every third
        of the timeout unless `force`; returns how many leases were renewed."""
        now = time()
        if not force and now - self._renewed_at < float(self.visibility_timeout) / 3:
            return 0
        self._renewed_at = now
        tags = self.qos.held_tags() if self._qos is not None else []
        lease = now + float(self.visibility_timeout)
        renewed = 0
        for start in range(0, len(tags), 500):
            chunk = tags[start:start + 500]
            with self._lock:
                renewed += self._connect().execute(
                    f'UPDATE messages SET lease_until = ? WHERE delivery_tag IN ({", ".join("?" * len(chunk))})',
                    (lease, *chunk)).rowcount
        return renewed

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_cancel(self, consumer_tag):
        self._no_ack_queues.discard(self._tag_to_queue.get(consumer_tag))
        return super().basic_cancel(consumer_tag)

    def basic_get(self, queue, no_ack=False, **kwargs):
        try:
            message = self.Message(self._get(queue, no_ack=no_ack), channel=self)
        except Empty:
            return None
        if not no_ack:
            self.qos.append(message, message.delivery_tag)
        return message

    # -- queues ---------------------------------------------------------------------------------------
    def prepare_queue_arguments(self, arguments, **kwargs):
        return to_rabbitmq_queue_arguments(arguments, **kwargs)

    def _new_queue(self, queue, arguments=None, **kwargs):
        arguments = dict(arguments or {})
        if {'x-message-ttl', 'x-dead-letter-exchange'} <= arguments.keys():
            emulated = set(_DELAY_ARGUMENTS)
        else:
            emulated = _DEAD_LETTER_ARGUMENTS | _LENGTH_ARGUMENTS
            if ('x-max-length' in arguments and arguments.get('x-overflow') != 'reject-publish'
                    and not _discards(arguments)):
                emulated -= {'x-max-length', 'x-overflow'}
        ignored = arguments.keys() - emulated - _HARMLESS_ARGUMENTS
        if ignored:
            log.warning('%s ignores arguments %s of queue %r', ALIAS, sorted(ignored), queue)
        # The latest declaration wins, so a service redeployed with new arguments keeps working.
        self._execute('INSERT INTO queues (name, arguments) VALUES (?, ?)'
                      ' ON CONFLICT (name) DO UPDATE SET arguments = excluded.arguments',
                      (queue, dumps(arguments)))

    def queue_declare(self, queue=None, passive=False, **kwargs):
        if passive and queue and self._has_queue(queue):
            # kombu's virtual channel would declare it again, here with no arguments: a passive declaration only
            # looks (how many messages wait), as on RabbitMQ.
            return virtual.base.queue_declare_ok_t(queue, self._size(queue), 0)
        return super().queue_declare(queue, passive=passive, **kwargs)

    def _has_queue(self, queue, **kwargs):
        return bool(self._execute('SELECT 1 FROM queues WHERE name = ?', (queue,)))

    def queue_delete(self, queue, if_unused=False, if_empty=False, **kwargs):
        with self._transaction() as db:
            if if_empty and self._size(queue):
                return
            for table, column in (('bindings', 'queue'), ('messages', 'queue'), ('queues', 'name')):
                db.execute(f'DELETE FROM {table} WHERE {column} = ?', (queue,))

    # -- exchanges and bindings, shared by every process ----------------------------------------------
    def _exchange_type(self, exchange):
        rows = self._execute('SELECT type FROM exchanges WHERE name = ?', (exchange,))
        return rows[0][0] if rows else None

    def exchange_declare(self, exchange=None, type='direct', durable=False, auto_delete=False,
                         arguments=None, nowait=False, passive=False):
        type = type or 'direct'
        exchange = exchange or f'amq.{type}'
        if passive:
            if self._exchange_type(exchange) is None:
                raise ChannelError(f'NOT_FOUND - no exchange {exchange!r} in {self._path}',
                                   (50, 10), 'Channel.exchange_declare', '404')
            return
        with self._transaction() as db:
            db.execute('INSERT INTO exchanges (name, type, durable, arguments) VALUES (?, ?, ?, ?)'
                       ' ON CONFLICT (name) DO NOTHING', (exchange, type, bool(durable), dumps(arguments or {})))
            declared = db.execute('SELECT type, durable FROM exchanges WHERE name = ?', (exchange,)).fetchone()
            if declared != (type, bool(durable)):
                raise NotEquivalentError(NOT_EQUIVALENT_FMT.format(exchange, str(self._path)))
            # Like queues, the latest arguments win (an alternate exchange added to an existing exchange).
            db.execute('UPDATE exchanges SET arguments = ? WHERE name = ?', (dumps(arguments or {}), exchange))

    def exchange_delete(self, exchange, if_unused=False, nowait=False):
        with self._transaction() as db:
            db.execute('DELETE FROM bindings WHERE exchange = ?', (exchange,))
            db.execute('DELETE FROM exchanges WHERE name = ?', (exchange,))

    def typeof(self, exchange, default='direct'):
        return self.exchange_types[self._exchange_type(exchange) or default]

    def get_table(self, exchange):
        return self._execute('SELECT routing_key, pattern, queue FROM bindings WHERE exchange = ?', (exchange,))

    def get_exchanges(self):
        return [name for name, in self._execute('SELECT name FROM exchanges')]

    def _lookup(self, exchange, routing_key, default=None):
        """The queues `exchange` routes `routing_key` to; through its alternate exchange(s) when none."""
        if not exchange:
            return [routing_key]
        seen = set()
        while exchange and exchange not in seen:
            seen.add(exchange)
            rows = self._execute('SELECT type, arguments FROM exchanges WHERE name = ?', (exchange,))
            if not rows:
                break
            kind, arguments = rows[0]
            queues = self.exchange_types[kind].lookup(self.get_table(exchange), exchange, routing_key, None)
            if queues:
                return list(dict.fromkeys(queues))
            exchange = loads(arguments or '{}').get('alternate-exchange')
        default = default or self.deadletter_queue
        return [default] if default else []

    def list_bindings(self):
        return self._execute('SELECT queue, exchange, routing_key FROM bindings')

    def queue_bind(self, queue, exchange=None, routing_key='', arguments=None, **kwargs):
        exchange = exchange or 'amq.direct'
        routing_key, pattern, queue = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
        self._execute('INSERT INTO bindings (exchange, routing_key, pattern, queue) VALUES (?, ?, ?, ?)'
                      ' ON CONFLICT DO NOTHING', (exchange, routing_key, pattern, queue))

    def queue_unbind(self, queue, exchange=None, routing_key='', arguments=None, **kwargs):
        self._execute('DELETE FROM bindings WHERE exchange = ? AND routing_key = ? AND queue = ?',
                      (exchange or 'amq.direct', routing_key, queue))


class Transport(virtual.Transport):
    Channel = Channel
    polling_interval = 0.1
    driver_type = driver_name = 'sqlite'
    # "database is locked" past busy_timeout is transient: let kombu's retry machinery reconnect.
    connection_errors = virtual.Transport.connection_errors + (sqlite3.OperationalError,)
    implements = virtual.Transport.implements.extend(exchange_type=frozenset(['direct', 'topic', 'fanout']))

    def driver_version(self):
        return sqlite3.sqlite_version

    def heartbeat_check(self, connection, rate=2):
        # No broker to keep alive: what must not lapse while a consumer works are its messages' leases.
        for channel in list(self.channels):
            channel.renew_leases()

    @property
    def default_connection_params(self):
        # A file has no host; with a default one kombu warns on every connection that it assumes localhost.
        return {}
