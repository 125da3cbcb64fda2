"""The event bus on kombu: one durable topic exchange, one durable queue per consuming service.

Topology for a namespace `ns` (default `assmat`) and a consuming service `svc` (services/BACKBONE.md, "Bus"):
- exchange `ns.events` (topic, durable); routing key = event type. Its alternate exchange `ns.unroutable` (fanout)
  feeds the queue `ns.unroutable`: an event that no queue is bound to is kept there instead of being dropped;
  `assmat dlq` lists and replays it;
- queue `ns.svc` bound to the event types the service handles. On RabbitMQ a quorum queue, whatever the
  environment, with a delivery limit (`x-delivery-limit`): a message that keeps killing its consumer is
  dead-lettered to `ns.svc.dead` by the broker (at least once), instead of being redelivered forever;
- retry queues `ns.svc.retry.<delay>ms`, with `x-message-ttl` and a dead-letter route back to `ns.svc`: a failed
  message waits there, then comes back; other messages keep flowing meanwhile. The name carries the delay, so
  changing the delays declares new queues instead of failing on the old ones (PRECONDITION_FAILED);
- dead-letter queue `ns.svc.dead`, bounded (`x-max-length`, `x-overflow: reject-publish`): a message that failed
  every retry, or can never be handled (not an event), lands there with its error in the headers.

The same code runs on RabbitMQ (`amqp://`: heartbeats, pipelined publisher confirms with a timeout) and on the
embedded SQLite transport (`sqlitebus:///...`), which emulates the alternate exchange, the TTL/dead-letter pattern,
the delivery limit and the bounded queues.
"""
from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import amqp
from amqp import method_framing, serialization
from amqp import spec as amqp_spec
from kombu import Connection, Consumer, Exchange, Queue, binding
from kombu.transport.virtual.base import NotEquivalentError

from services import correlation
from services.events import Event, InvalidEvent
from services.failures import InfrastructureError, describe, is_infrastructure_error

log = logging.getLogger("services.bus")

ATTEMPTS_HEADER = "x-assmat-attempts"
ERROR_HEADER = "x-assmat-error"
DEAD_AT_HEADER = "x-assmat-dead-at"
UNROUTABLE = "unroutable"
# What a broker adds when it dead-letters or redelivers: dropped when a message is sent back to be handled again.
BROKER_HEADERS = ("x-death", "x-first-death-reason", "x-first-death-queue", "x-first-death-exchange",
                  "x-last-death-reason", "x-last-death-queue", "x-last-death-exchange", "x-delivery-count")
ERROR_LIMIT = 4000


def _register_transports() -> None:
    from services.bus import sqlite_transport
    sqlite_transport.register()


_register_transports()


class BrokerUnavailable(InfrastructureError):
    """The broker cannot be reached, or did not confirm in time: nothing sent in that call is known to be kept."""


class PublishRefused(Exception):
    """The broker refused a message (a nack: a full queue; or nothing routed it)."""


class DeclarationFailed(Exception):
    """The broker refused an exchange or queue declaration: it exists with other arguments (changed by hand, or
    declared by an older version). Retrying will not help until someone reconciles it."""


@dataclass(frozen=True)
class Outgoing:
    """One message to send: to `exchange` ("" for a queue by name) with `routing_key`."""
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"
    content_encoding: str = "utf-8"


def event_message(exchange: str, event: Event) -> Outgoing:
    return Outgoing(exchange, event.routing_key, event.to_json().encode("utf-8"), event.id,
                    {"x-correlation-id": event.correlation_id or ""})


def connect(connection: Connection) -> Connection:
    """Connect once, without kombu's retries and their sleeps: callers have their own backoff."""
    connection.ensure_connection(max_retries=0)
    return connection


def dispose(connection: Connection, timeout: float = 1.0) -> None:
    """Close a connection without waiting more than `timeout` for a broker that does not answer (AMQP's close
    waits for the broker's Close-Ok, forever by default)."""
    raw = getattr(connection, "_connection", None)
    sock = getattr(getattr(raw, "transport", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout)
    try:
        connection.release()
    except Exception:  # already broken: what matters is that its resources are gone
        with contextlib.suppress(Exception):
            connection.collect()


def _is_broker_failure(error: BaseException) -> bool:
    return is_infrastructure_error(error) or isinstance(error, (amqp.ChannelError, sqlite3.Error))


_FLUSH_BYTES = 256 * 1024


class _FrameBuffer:
    """A transport for amqp's frame writer that keeps what it is given (a view of a reused buffer: copied)."""

    def __init__(self, frames: bytearray):
        self.frames = frames

    def write(self, data) -> None:
        self.frames += data


class _AmqpPublisher:
    """A connection and a channel in confirm mode, owned by one thread. `send` publishes every message, then waits
    for all their Basic.Ack/Nack frames (pipelined confirms: one round trip per batch, not per message)."""

    def __init__(self, bus: "Bus"):
        self.connection = bus.connection()
        try:
            connect(self.connection)
            self.channel = self.connection.channel()
            bus.declare_exchanges(self.channel)
            self.channel.confirm_select()
        except BaseException:
            dispose(self.connection)
            raise
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self.last_tag = 0
        self.waiting: dict[int, int] = {}
        self.results: list[str | None] = []
        self.returned: dict[str, str] = {}
        self.outgoing: list[Outgoing] = []
        self.used_at = time.monotonic()

    def _settle(self, tag: int, multiple: bool, refusal: str | None) -> None:
        tags = [t for t in self.waiting if t <= tag] if multiple else [tag]
        for settled in tags:
            index = self.waiting.pop(settled, None)
            if index is None:
                continue
            returned = self.returned.get(self.outgoing[index].message_id)
            self.results[index] = refusal or returned

    def _on_ack(self, tag, multiple):
        self._settle(tag, multiple, None)

    def _on_nack(self, tag, multiple):
        self._settle(tag, multiple, "refused by the broker (nack): a queue it routes to is full")

    def _on_return(self, exc, exchange, routing_key, message):
        # Sent before the ack of the same message: remembered until then.
        self.returned[message.properties.get("message_id", "")] = (
            f"unroutable: nothing took it on exchange {exchange or '(default)'!r} with key {routing_key!r}")

    def send(self, outgoing: list[Outgoing], timeout: float) -> list[str | None]:
        deadline = time.monotonic() + timeout
        self.outgoing, self.results, self.returned, self.waiting = outgoing, [None] * len(outgoing), {}, {}
        raw = self.connection.connection
        frames = bytearray()

        def flush() -> None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("publish timed out")
            # The write itself is bounded: a broker that stopped reading (resource alarm) fills the socket.
            with raw.transport.having_timeout(remaining):
                raw.transport.write(bytes(frames))
            frames.clear()

        # The frames of many messages in one write, instead of a write (and a look for incoming frames) per message
        # as Channel.basic_publish does: per-message system calls were most of a publication's cost.
        write_frame = method_framing.frame_writer(raw, _FrameBuffer(frames))
        for index, item in enumerate(outgoing):
            message = amqp.Message(item.body, content_type=item.content_type,
                                   content_encoding=item.content_encoding, delivery_mode=2,
                                   message_id=item.message_id, application_headers=item.headers)
            write_frame(1, self.channel.channel_id, amqp_spec.Basic.Publish,
                        serialization.dumps("Bssbb", (0, item.exchange, item.routing_key, True, False)), message)
            self.last_tag += 1
            self.waiting[self.last_tag] = index
            if len(frames) >= _FLUSH_BYTES:
                flush()
        if frames:
            flush()
        while self.waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("confirms timed out")
            self.connection.drain_events(timeout=remaining)
        self.used_at = time.monotonic()
        return self.results

    def close(self) -> None:
        dispose(self.connection)


class _SqlitePublisher:
    """The embedded transport: the whole batch in one SQLite transaction; a full queue refuses its message."""

    def __init__(self, bus: "Bus"):
        from services.bus.sqlite_transport import PublishRefused as Refused
        self._refused = Refused
        self.connection = bus.connection()
        try:
            connect(self.connection)
            self.channel = self.connection.channel()
            bus.declare_exchanges(self.channel)
        except BaseException:
            dispose(self.connection)
            raise
        self.used_at = time.monotonic()

    def send(self, outgoing: list[Outgoing], timeout: float) -> list[str | None]:
        results: list[str | None] = []
        with self.channel.batch():
            for item in outgoing:
                message = self.channel.prepare_message(
                    item.body, content_type=item.content_type, content_encoding=item.content_encoding,
                    headers=dict(item.headers), properties={"message_id": item.message_id, "delivery_mode": 2})
                try:
                    self.channel.basic_publish(message, item.exchange, item.routing_key, mandatory=True)
                    results.append(None)
                except self._refused as refusal:
                    results.append(f"refused: {refusal}")
        self.used_at = time.monotonic()
        return results

    def close(self) -> None:
        dispose(self.connection)


class Bus:
    def __init__(self, url: str, namespace: str = "assmat", *, connect_timeout: float = 5.0,
                 heartbeat: float = 10.0, confirm_timeout: float = 10.0, delivery_limit: int = 10,
                 dead_letter_max_length: int = 100_000, queue_expires_ms: int | None = None,
                 transport_options: Mapping | None = None):
        """`heartbeat` (seconds, RabbitMQ) detects a dead or frozen broker from both ends; `confirm_timeout` bounds
        how long a publish waits for the broker's confirms before raising BrokerUnavailable; `delivery_limit` is how
        many times a message may be handed back unacknowledged (its consumer died) before the broker dead-letters
        it; `dead_letter_max_length` bounds each dead-letter queue (and `ns.unroutable`): past it, publishing there
        is refused, nothing is dropped.

        `queue_expires_ms` lets RabbitMQ delete the queues once unused that long (`x-expires`): test runs on a
        shared broker set it through BUS_QUEUE_EXPIRES_MS (the test harness does), so their namespaced queues do
        not pile up run after run. Production leaves it unset: a service's queue must outlive any outage."""
        self.url = url
        self.namespace = namespace
        self.is_amqp = url.startswith(("amqp", "pyamqp"))
        if queue_expires_ms is None:
            queue_expires_ms = int(os.environ.get("BUS_QUEUE_EXPIRES_MS") or 0)
        self._expiry = {"x-expires": queue_expires_ms} if queue_expires_ms > 0 else {}
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.confirm_timeout = confirm_timeout
        self.delivery_limit = delivery_limit
        self.dead_letter_max_length = dead_letter_max_length
        self.transport_options = dict(transport_options or {})
        self.unroutable_exchange = Exchange(f"{namespace}.{UNROUTABLE}", type="fanout", durable=True)
        self.exchange = Exchange(f"{namespace}.events", type="topic", durable=True,
                                 arguments={"alternate-exchange": self.unroutable_exchange.name})
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------------------------------
    def connection(self) -> Connection:
        """A new connection (not yet connected); on RabbitMQ with heartbeats, which its user must keep up by
        calling `heartbeat_check()` about every second when it keeps the connection for long."""
        if self.is_amqp:
            return Connection(self.url, connect_timeout=self.connect_timeout, heartbeat=self.heartbeat,
                              transport_options=dict(self.transport_options))
        return Connection(self.url, connect_timeout=self.connect_timeout,
                          transport_options=dict(self.transport_options))

    @contextlib.contextmanager
    def connected(self):
        """A connection, connected once (no retries), closed at the end without hanging on a silent broker."""
        conn = self.connection()
        try:
            connect(conn)
            yield conn
        finally:
            dispose(conn)

    def _publisher(self):
        publisher = getattr(self._local, "publisher", None)
        # An idle connection may have been closed by the broker for missed heartbeats (nobody beats for it):
        # a fresh one costs less than a spurious failure.
        if publisher is not None and self.is_amqp and time.monotonic() - publisher.used_at > self.heartbeat / 2:
            self._reset_publisher()
            publisher = None
        if publisher is None:
            publisher = (_AmqpPublisher if self.is_amqp else _SqlitePublisher)(self)
            self._local.publisher = publisher
        return publisher

    def _reset_publisher(self) -> None:
        publisher = getattr(self._local, "publisher", None)
        self._local.publisher = None
        if publisher is not None:
            publisher.close()

    def close(self) -> None:
        """Close this thread's publishing connection."""
        self._reset_publisher()

    def check(self) -> None:
        """Readiness: can we reach the broker now?"""
        with self.connected():
            pass

    # -- publishing ----------------------------------------------------------------------------------------------
    def send(self, outgoing: list[Outgoing], timeout: float | None = None) -> list[str | None]:
        """Send messages, persistent and mandatory; returns one entry per message, None when the broker confirmed
        it, else why it was refused. Raises BrokerUnavailable when the broker cannot be reached or does not
        confirm everything within `timeout` (default `confirm_timeout`): then nothing is known to be confirmed."""
        if not outgoing:
            return []
        timeout = self.confirm_timeout if timeout is None else timeout
        try:
            return self._publisher().send(outgoing, timeout)
        except Exception as error:
            self._reset_publisher()
            if isinstance(error, (socket.timeout, TimeoutError)):
                raise BrokerUnavailable(f"the broker did not confirm {len(outgoing)} message(s) within "
                                        f"{timeout:g} s") from error
            if _is_broker_failure(error) or isinstance(error, DeclarationFailed):
                # A refused declaration (the exchange changed by hand) stops all publishing, like an outage.
                raise BrokerUnavailable(f"broker unavailable: {describe(error)}") from error
            raise

    def publish_many(self, events: Iterable[Event], timeout: float | None = None) -> list[str | None]:
        """Publish events to the exchange; one entry per event, None when confirmed, else why it was refused."""
        return self.send([event_message(self.exchange.name, event) for event in events], timeout)

    def publish(self, event: Event, timeout: float | None = None) -> None:
        """Publish one event; returns once the broker confirmed it. Raises BrokerUnavailable or PublishRefused."""
        [refusal] = self.publish_many([event], timeout)
        if refusal:
            raise PublishRefused(refusal)

    # -- topology ------------------------------------------------------------------------------------------------
    def queue_name(self, service: str) -> str:
        return f"{self.namespace}.{service}"

    def retry_queue_name(self, service: str, delay_ms: int) -> str:
        return f"{self.queue_name(service)}.retry.{int(delay_ms)}ms"

    def dead_letter_queue_name(self, service: str) -> str:
        return f"{self.queue_name(service)}.dead"

    @property
    def unroutable_queue_name(self) -> str:
        return self.unroutable_exchange.name

    def _bounded(self) -> dict:
        return {"x-max-length": int(self.dead_letter_max_length), "x-overflow": "reject-publish", **self._expiry}

    def service_queue(self, service: str, event_types: Iterable[str]) -> Queue:
        arguments = {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead_letter_queue_name(service),
            "x-delivery-limit": int(self.delivery_limit),
            # Dead-lettering by the broker waits for the dead-letter queue to confirm (and to have room),
            # which RabbitMQ only does with reject-publish on the source queue.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-queue-type": "quorum",
            **self._expiry,
        }
        return Queue(self.queue_name(service), durable=True, queue_arguments=arguments,
                     bindings=[binding(self.exchange, routing_key=type_) for type_ in event_types])

    def retry_queue(self, service: str, delay_ms: int) -> Queue:
        return Queue(self.retry_queue_name(service, delay_ms), durable=True, queue_arguments={
            "x-message-ttl": int(delay_ms),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.queue_name(service),
            **self._expiry,
        })

    def dead_letter_queue(self, service: str) -> Queue:
        return Queue(self.dead_letter_queue_name(service), durable=True, queue_arguments=self._bounded())

    @property
    def unconsumed_queue_name(self) -> str:
        return f"{self.namespace}.unconsumed"

    def unconsumed_queue(self, event_types: Iterable[str]) -> Queue:
        """Where the event types that no service consumes (by the catalogue) are routed and dropped at once: they
        are not lost subscriptions, and must not fill the unroutable queue meant for those."""
        return Queue(self.unconsumed_queue_name, durable=True,
                     queue_arguments={"x-max-length": 0, "x-overflow": "drop-head", **self._expiry},
                     bindings=[binding(self.exchange, routing_key=type_) for type_ in event_types])

    def unroutable_queue(self) -> Queue:
        return Queue(self.unroutable_queue_name, exchange=self.unroutable_exchange, durable=True,
                     queue_arguments=self._bounded())

    @contextlib.contextmanager
    def _declaring(self):
        try:
            yield
        except (amqp.ChannelError, NotEquivalentError) as error:
            raise DeclarationFailed(describe(error)) from error

    def declare_exchanges(self, channel) -> None:
        """The exchange, its alternate exchange and the unroutable queue, on `channel`."""
        with self._declaring():
            self.unroutable_exchange(channel).declare()
            self.unroutable_queue()(channel).declare()
            self.exchange(channel).declare()

    def declare_service(self, channel, service: str, event_types: Iterable[str],
                        retry_delays_ms: Iterable[int]) -> None:
        """One consuming service's queues and bindings, on `channel` (the exchanges must exist)."""
        with self._declaring():
            self.dead_letter_queue(service)(channel).declare()
            for delay in sorted({int(delay) for delay in retry_delays_ms}):
                self.retry_queue(service, delay)(channel).declare()
            self.service_queue(service, event_types)(channel).declare()

    def declare_topology(self, consumers: Mapping[str, Iterable[str]], retry_delays_ms: Iterable[int], *,
                         subscribers: Mapping[str, Iterable[str]] | None = None,
                         unconsumed: Iterable[str] = ()) -> None:
        """Declare the exchange, the unroutable queue, and each consuming service's queues and bindings (`consumers`
        maps a service to the event types it handles). A producer also declares, from the catalogue, the queues and
        bindings of the services that consume what it publishes (`subscribers`; their retry queues are theirs to
        declare), and routes the types nobody consumes to the discarding queue (`unconsumed`). Raises
        DeclarationFailed when the broker refuses one (it exists with other arguments), BrokerUnavailable when it
        cannot be reached."""
        delays = list(retry_delays_ms)
        try:
            with self.connected() as conn:
                channel = conn.channel()
                self.declare_exchanges(channel)
                for service, event_types in (subscribers or {}).items():
                    self.declare_service(channel, service, event_types, [])
                for service, event_types in consumers.items():
                    self.declare_service(channel, service, event_types, delays)
                unconsumed = sorted(set(unconsumed))
                if unconsumed:
                    with self._declaring():
                        self.unconsumed_queue(unconsumed)(channel).declare()
        except DeclarationFailed:
            raise
        except Exception as error:
            if _is_broker_failure(error):
                raise BrokerUnavailable(f"broker unavailable: {describe(error)}") from error
            raise

    def declare(self, service: str, event_types: Iterable[str], retry_delays_ms: Iterable[int]) -> None:
        """`declare_topology` for one service."""
        self.declare_topology({service: list(event_types)}, retry_delays_ms)

    def waiting(self, queue_name: str) -> int | None:
        """How many messages wait in a queue; None when it does not exist."""
        with self.connected() as conn:
            try:
                return Queue(queue_name)(conn.channel()).queue_declare(passive=True).message_count
            except (amqp.ChannelError, NotEquivalentError):
                return None


BatchHandler = Callable[[list[Event]], None]
EventCallback = Callable[[Event], None]


def each_event(handle: EventCallback) -> BatchHandler:
    """A batch handler calling `handle(event)` for each event in turn, with the event's correlation id bound."""
    def handle_batch(events: list[Event]) -> None:
        for event in events:
            with correlation.bound(event.correlation_id):
                handle(event)
    return handle_batch


_STOPPED = object()


class _KeepAlive:
    """While the consuming thread is busy in a handler, a helper thread keeps its connection alive: heartbeats sent
    to RabbitMQ, leases renewed on the SQLite transport. The consuming thread does not touch the connection
    meanwhile, so the two never use it at once."""

    def __init__(self, beat: Callable[[], None], interval: float):
        self._beat, self._interval = beat, interval
        self._lock = threading.Lock()
        self._busy = False
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bus-keepalive", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait()
            if self._closed.wait(self._interval):
                return
            with self._lock:
                if self._busy:
                    try:
                        self._beat()
                    except Exception:  # the consuming thread finds out on its next use of the connection
                        log.debug("keepalive failed", exc_info=True)

    @contextlib.contextmanager
    def busy(self):
        with self._lock:
            self._busy = True
            self._wake.set()
        try:
            yield
        finally:
            with self._lock:
                self._busy = False
                self._wake.clear()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()


class ServiceConsumer:
    """Consumes a service's queue in batches. `handle_batch(events)` raises on failure:
    - an infrastructure error (services.failures) pauses consumption: the same batch is retried with capped
      backoff until it passes or the consumer stops, keeping the connection alive meanwhile; nothing is
      dead-lettered and no attempt is counted;
    - any other error (poison): the batch is replayed one event at a time to find the culprit, which goes
      through the retry queues, then to the dead-letter queue with its error. `InvalidEvent` and bodies that are
      not events are dead-lettered at once.
    `on_state(state, detail)` hears `starting | consuming | paused | failed` (failed: the broker refuses the
    service's queues; retried slowly)."""

    poll_seconds = 0.2
    keepalive_seconds = 1.0

    def __init__(self, bus: Bus, service: str, event_types: Iterable[str], handle_batch: BatchHandler,
                 retry_delays_ms: Iterable[int], *, prefetch: int = 200, batch_size: int = 100,
                 on_state: Callable[[str, str], None] | None = None, batch_wait: float = 0.005,
                 pause_backoff: tuple[float, float] = (0.5, 5.0), failed_retry_seconds: float = 30.0,
                 unroutable_check_seconds: float = 60.0):
        self.bus = bus
        self.service = service
        self.event_types = list(event_types)
        self.handle_batch = handle_batch
        self.retry_delays_ms = [int(delay) for delay in retry_delays_ms]
        self.prefetch = prefetch
        self.batch_size = max(1, batch_size)
        self.on_state = on_state
        self.batch_wait = batch_wait
        self.pause_backoff = pause_backoff
        self.failed_retry_seconds = failed_retry_seconds
        self.unroutable_check_seconds = unroutable_check_seconds
        self.state, self.state_detail = "starting", ""
        self.handled = 0        # events handled and acknowledged
        self.retried = 0        # events sent to a retry queue
        self.dead_lettered = 0  # messages sent to the dead-letter queue
        self._received: collections.deque = collections.deque()
        self._unroutable_checked_at = 0.0

    # -- running -------------------------------------------------------------------------------------------------
    def run_until(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; messages not yet handled then go back to the queue."""
        self._run(stop.is_set)

    def drain_for(self, seconds: float) -> None:
        """Consume whatever arrives during `seconds`, then return (tests use it)."""
        deadline = time.monotonic() + seconds
        self._run(lambda: time.monotonic() >= deadline)

    def _set_state(self, state: str, detail: str = "") -> None:
        if (state, detail) == (self.state, self.state_detail):
            return
        self.state, self.state_detail = state, detail
        log.info("consumer state", extra={"service": self.service, "state": state, "detail": detail})
        if self.on_state is not None:
            try:
                self.on_state(state, detail)
            except Exception:
                log.exception("on_state callback failed")

    def _sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def _run(self, should_stop: Callable[[], bool]) -> None:
        self.state = ""  # heard again at each run, even if it was the state before
        self._set_state("starting")
        delay = self.pause_backoff[0]
        while not should_stop():
            try:
                with self.bus.connected() as conn:
                    channel = conn.channel()
                    self.bus.declare_exchanges(channel)
                    self.bus.declare_service(channel, self.service, self.event_types, self.retry_delays_ms)
                    delay = self.pause_backoff[0]
                    self._consume(conn, channel, should_stop)
            except DeclarationFailed as error:
                log.error("the broker refuses this service's queues; fix or delete them (see assmat dlq)",
                          extra={"service": self.service, "error": str(error)})
                self._set_state("failed", f"declaration refused: {error}")
                self._sleep(self.failed_retry_seconds, should_stop)
            except Exception as error:
                if _is_broker_failure(error):
                    log.warning("broker unavailable, consumer reconnecting",
                                extra={"service": self.service, "error": describe(error), "retry_in_s": delay})
                    self._set_state("paused", f"broker unavailable: {describe(error)}")
                    self._sleep(delay, should_stop)
                    delay = min(delay * 2, self.pause_backoff[1])
                else:
                    log.exception("consumer failed", extra={"service": self.service})
                    self._set_state("failed", describe(error))
                    self._sleep(self.failed_retry_seconds, should_stop)
            finally:
                self._received.clear()  # unacknowledged: the broker hands them out again

    def _consume(self, conn, channel, should_stop: Callable[[], bool]) -> None:
        consumer = Consumer(channel, queues=[self.bus.service_queue(self.service, self.event_types)],
                            on_message=self._received.append, no_ack=False, auto_declare=False)
        # Probation: a message that killed the previous worker comes back first, with every message that worker
        # had prefetched, and each return counts towards the delivery limit. So redeliveries are taken one at a
        # time, and the full prefetch only starts with the first message delivered for the first time: a killer
        # then takes only itself down, and reaches the delivery limit alone.
        consumer.qos(prefetch_count=1)
        consumer.consume()
        probation = True
        keepalive = _KeepAlive(self._beat(conn), self._keepalive_interval(conn))
        self._set_state("consuming")
        self._check_unroutable(conn, force=True)
        try:
            while not should_stop():
                if not self._received:
                    self._drain(conn, self.poll_seconds)
                else:
                    if probation and not _redelivered(self._received[0]):
                        probation = False
                        consumer.cancel()  # the per-consumer prefetch only applies to a new consumer
                        consumer.qos(prefetch_count=self.prefetch)
                        consumer.consume()
                    if not probation:
                        self._gather(conn)
                    if not self._process(conn, keepalive, self._next_batch(1 if probation else None),
                                         should_stop):
                        return
                conn.heartbeat_check()
                self._check_unroutable(conn)
            # Stopping: no new deliveries; what was already delivered is handled unless that would mean waiting.
            with contextlib.suppress(Exception):
                consumer.cancel()
            while self._received:
                if not self._process(conn, keepalive, self._next_batch(), should_stop):
                    return
        finally:
            keepalive.close()

    def _keepalive_interval(self, conn) -> float:
        """Often enough for the heartbeat (RabbitMQ) or the leases (SQLite) to never lapse."""
        if self.bus.is_amqp:
            lapse = conn.connection.heartbeat or self.bus.heartbeat
        else:
            lapse = float(conn.transport_options.get("visibility_timeout", 30.0))
        return min(self.keepalive_seconds, lapse / 4)

    def _beat(self, conn) -> Callable[[], None]:
        if self.bus.is_amqp:
            raw = conn.connection

            def beat() -> None:
                if raw.heartbeat:
                    with raw.transport.having_timeout(1.0):  # never stuck on a broker that stopped reading
                        raw.send_heartbeat()
            return beat
        return conn.heartbeat_check  # renews the leases of the messages held

    def _drain(self, conn, timeout: float) -> bool:
        try:
            conn.drain_events(timeout=timeout)
            return True
        except socket.timeout:
            return False

    def _gather(self, conn) -> None:
        """Add to the batch what is already waiting, for a few milliseconds at most."""
        deadline = time.monotonic() + self.batch_wait
        while len(self._received) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._drain(conn, remaining):
                return

    def _next_batch(self, size: int | None = None) -> list:
        return [self._received.popleft() for _ in range(min(size or self.batch_size, len(self._received)))]

    def _check_unroutable(self, conn, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._unroutable_checked_at < self.unroutable_check_seconds:
            return
        self._unroutable_checked_at = now
        channel = None
        try:
            channel = conn.channel()
            waiting = Queue(self.bus.unroutable_queue_name)(channel).queue_declare(passive=True).message_count
        except Exception:  # informative only
            return
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):
                    channel.close()
        if waiting:
            log.warning("events published while no queue was bound to their type are kept aside; "
                        "list them with `assmat dlq list`, replay them once their consumer exists",
                        extra={"queue": self.bus.unroutable_queue_name, "count": waiting})

    # -- handling ------------------------------------------------------------------------------------------------
    def _wait(self, conn, seconds: float, should_stop: Callable[[], bool]) -> bool:
        """Wait `seconds` while keeping the connection alive (deliveries keep arriving, unacknowledged, into the
        next batches). False if asked to stop meanwhile."""
        deadline = time.monotonic() + seconds
        while not should_stop():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            self._drain(conn, min(remaining, self.poll_seconds))
            conn.heartbeat_check()
        return False

    def _attempt(self, conn, keepalive: _KeepAlive, work: Callable[[], None], should_stop):
        """Run `work` until it passes or fails for its own sake: None, its poison exception, or _STOPPED.
        Infrastructure errors pause and retry without limit (capped backoff)."""
        delay, paused = self.pause_backoff[0], False
        while True:
            try:
                with keepalive.busy():
                    work()
                outcome = None
            except Exception as error:
                if not is_infrastructure_error(error):
                    outcome = error
                else:
                    if not paused:
                        log.warning("infrastructure unavailable, consumption paused", extra={
                            "service": self.service, "error": describe(error)})
                    paused = True
                    self._set_state("paused", describe(error))
                    if not self._wait(conn, delay, should_stop):
                        return _STOPPED
                    delay = min(delay * 2, self.pause_backoff[1])
                    continue
            if paused:
                log.info("consumption resumed", extra={"service": self.service})
                self._set_state("consuming")
            return outcome

    def _handle(self, events: list[Event]) -> Callable[[], None]:
        return lambda: self.handle_batch(list(events))

    def _process(self, conn, keepalive: _KeepAlive, batch: list, should_stop) -> bool:
        """Handle a batch and settle each message; False if stopped before the end (the rest goes back)."""
        events, messages = [], []
        for message in batch:
            try:
                events.append(decode(message))
                messages.append(message)
            except InvalidEvent as error:
                if not self._fail(conn, keepalive, message, None, error, should_stop):
                    return False
        if not events:
            return True
        outcome = self._attempt(conn, keepalive, self._handle(events), should_stop)
        if outcome is _STOPPED:
            return False
        if outcome is None:
            self._ack(messages)
            self.handled += len(messages)
            return True
        if len(events) == 1:
            return self._fail(conn, keepalive, messages[0], events[0], outcome, should_stop)
        log.info("batch failed, replaying its events one at a time",
                 extra={"service": self.service, "events": len(events), "error": describe(outcome)})
        for event, message in zip(events, messages):
            outcome = self._attempt(conn, keepalive, self._handle([event]), should_stop)
            if outcome is _STOPPED:
                return False
            if outcome is None:
                self._ack([message])
                self.handled += 1
            elif not self._fail(conn, keepalive, message, event, outcome, should_stop):
                return False
        return True

    def _ack(self, messages: list) -> None:
        if self.bus.is_amqp and len(messages) > 1:
            # One frame for the batch: `multiple` also settles every earlier delivery of the channel, and those are
            # all settled already (batches are taken from the front of the deliveries, in order; a message taken
            # out of a batch was forwarded and acked on its own), so it settles exactly this batch.
            max(messages, key=lambda message: message.delivery_tag).ack(multiple=True)
            return
        batch = getattr(messages[0].channel, "batch", None)  # the SQLite transport: one transaction for all
        with batch() if batch is not None else contextlib.nullcontext():
            for message in messages:
                message.ack()

    def _fail(self, conn, keepalive, message, event: Event | None, error: Exception, should_stop) -> bool:
        """Send a message that failed for its own sake to its next retry queue, or to the dead-letter queue, then
        ack it. False if stopped before (it then goes back to the queue)."""
        headers = {key: value for key, value in dict(message.headers or {}).items() if key != "x-delivery-count"}
        attempts = int(headers.get(ATTEMPTS_HEADER) or 0)
        reason = describe(error)
        final = event is None or isinstance(error, InvalidEvent)
        if event is None:
            reason = f"not a valid event: {reason}"
        elif isinstance(error, InvalidEvent):  # the data can never be handled: retrying would only delay
            reason = f"invalid event data: {reason}"
        context = {"service": self.service, "event_id": event.id if event else None,
                   "event_type": event.type if event else None}
        if not final and attempts < len(self.retry_delays_ms):
            delay = self.retry_delays_ms[attempts]
            log.warning("event handler failed, retrying",
                        extra={**context, "attempt": attempts + 1, "delay_ms": delay, "error": reason})
            headers.update({ATTEMPTS_HEADER: attempts + 1, ERROR_HEADER: reason[:ERROR_LIMIT]})
            target = self.bus.retry_queue_name(self.service, delay)
        else:
            log.error("event dead-lettered", extra={
                **context, "queue": self.bus.dead_letter_queue_name(self.service), "error": reason})
            headers.update({ERROR_HEADER: reason[:ERROR_LIMIT],
                            DEAD_AT_HEADER: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
            target = self.bus.dead_letter_queue_name(self.service)
        properties = message.properties or {}
        outgoing = Outgoing("", target, _raw_body(message),
                            properties.get("message_id") or (event.id if event else str(uuid.uuid4())), headers,
                            message.content_type or "", message.content_encoding or "")

        def forward() -> None:
            [refusal] = self.bus.send([outgoing])
            if refusal:  # a full dead-letter queue: wait for room rather than lose the message
                raise InfrastructureError(f"{target} refused the message: {refusal}")

        outcome = self._attempt(conn, keepalive, forward, should_stop)
        if outcome is _STOPPED:
            return False
        if outcome is not None:
            raise outcome
        message.ack()
        if target.endswith(".dead"):
            self.dead_lettered += 1
        else:
            self.retried += 1
        return True


def _redelivered(message) -> bool:
    return bool((message.delivery_info or {}).get("redelivered") or (message.headers or {}).get("x-delivery-count"))


def _raw_body(message) -> bytes:
    body = message.body
    return body if isinstance(body, bytes) else str(body or "").encode("utf-8")


def decode(message) -> Event:
    """The event a message carries; InvalidEvent when its body is not a JSON event envelope."""
    content_type = (message.content_type or "").lower()
    if content_type and content_type != "application/json":
        raise InvalidEvent(f"content type {content_type!r} is not application/json")
    try:
        payload = json.loads(_raw_body(message).decode(message.content_encoding or "utf-8"))
    except (ValueError, LookupError) as error:
        raise InvalidEvent(f"body is not JSON ({type(error).__name__})") from None
    return Event.from_dict(payload)
