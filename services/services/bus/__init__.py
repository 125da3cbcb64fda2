"""The event bus on kombu: one durable topic exchange, one durable queue per consuming service.

Topology for a namespace `ns` (default `assmat`) and a consuming service `svc`:
- exchange `ns.events` (topic, durable); routing key = event type;
- queue `ns.svc` (durable; quorum on RabbitMQ when `quorum=True`) bound to the event types the service handles;
- retry queues `ns.svc.retry.N`, one per backoff step, with `x-message-ttl` and a dead-letter route back to
  `ns.svc`: a failed message waits there, then comes back; other messages keep flowing meanwhile;
- dead-letter queue `ns.svc.dead`: a message that failed every retry, or can never be handled (not an event), lands
  there with its error in the headers, and the queue moves on.

The same code runs on RabbitMQ (`amqp://`, publisher confirms) and on the embedded SQLite transport
(`sqlitebus:///...`), which emulates the TTL/dead-letter pattern.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import traceback
from typing import Callable, Iterable

from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.mixins import ConsumerMixin

from services import correlation
from services.events import Event, InvalidEvent

log = logging.getLogger("services.bus")

ATTEMPTS_HEADER = "x-assmat-attempts"
ERROR_HEADER = "x-assmat-error"


def _register_transports() -> None:
    from services.bus import sqlite_transport
    sqlite_transport.register()


_register_transports()


class Bus:
    def __init__(self, url: str, namespace: str = "assmat", *, quorum: bool = False,
                 connect_timeout: float = 5.0, queue_expires_ms: int | None = None):
        """`queue_expires_ms` lets RabbitMQ delete the queues once unused that long (`x-expires`): test runs on a
        shared broker set it through BUS_QUEUE_EXPIRES_MS (the test harness does), so their namespaced queues do
        not pile up run after run. Production leaves it unset: a service's queue must outlive any outage."""
        self.url = url
        self.namespace = namespace
        if queue_expires_ms is None:
            queue_expires_ms = int(os.environ.get("BUS_QUEUE_EXPIRES_MS") or 0)
        self._expiry = {"x-expires": queue_expires_ms} if queue_expires_ms > 0 else {}
        self.quorum = quorum
        self.connect_timeout = connect_timeout
        self.exchange = Exchange(f"{namespace}.events", type="topic", durable=True)
        self._local = threading.local()

    # -- connections ---------------------------------------------------------------------------------------------
    def connection(self) -> Connection:
        options = {"confirm_publish": True} if self.url.startswith(("amqp", "pyamqp")) else {}
        return Connection(self.url, transport_options=options, connect_timeout=self.connect_timeout)

    def _producer(self) -> Producer:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            conn = self.connection()
            conn.ensure_connection(max_retries=3)
            producer = Producer(conn.channel(), exchange=self.exchange, serializer="json")
            self.exchange(producer.channel).declare()
            self._local.connection, self._local.producer = conn, producer
        return producer

    def _reset_producer(self) -> None:
        conn = getattr(self._local, "connection", None)
        self._local.producer = None
        self._local.connection = None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        self._reset_producer()

    def check(self) -> None:
        """Readiness: can we reach the broker now?"""
        with self.connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=self.connect_timeout)

    # -- publishing ----------------------------------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Publish persistently; on RabbitMQ returns only after the broker confirmed it."""
        try:
            self._producer().publish(event.to_dict(), routing_key=event.routing_key, delivery_mode=2,
                                     message_id=event.id,
                                     headers={"x-correlation-id": event.correlation_id or ""},
                                     retry=False)
        except Exception:
            self._reset_producer()
            raise

    # -- topology ------------------------------------------------------------------------------------------------
    def queue_name(self, service: str) -> str:
        return f"{self.namespace}.{service}"

    def service_queue(self, service: str, event_types: Iterable[str]) -> Queue:
        arguments = {**({"x-queue-type": "quorum"} if self.quorum else {}), **self._expiry} or None
        return Queue(self.queue_name(service), exchange=self.exchange, durable=True, queue_arguments=arguments,
                     bindings=[binding(self.exchange, routing_key=type_) for type_ in event_types])

    def retry_queue(self, service: str, step: int, delay_ms: int) -> Queue:
        return Queue(f"{self.queue_name(service)}.retry.{step}", durable=True, queue_arguments={
            "x-message-ttl": int(delay_ms),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.queue_name(service),
            **self._expiry,
        })

    def dead_letter_queue(self, service: str) -> Queue:
        return Queue(f"{self.queue_name(service)}.dead", durable=True, queue_arguments=self._expiry or None)

    def declare(self, service: str, event_types: Iterable[str], retry_delays_ms: list[int]) -> None:
        with self.connection() as conn:
            channel = conn.default_channel
            self.exchange(channel).declare()
            self.service_queue(service, event_types)(channel).declare()
            for step, delay in enumerate(retry_delays_ms, start=1):
                self.retry_queue(service, step, delay)(channel).declare()
            self.dead_letter_queue(service)(channel).declare()


EventCallback = Callable[[Event], None]


class ServiceConsumer(ConsumerMixin):
    """Consumes a service's queue; retries failures with backoff, then dead-letters them."""

    def __init__(self, bus: Bus, service: str, event_types: Iterable[str], callback: EventCallback,
                 retry_delays_ms: list[int], prefetch: int = 20):
        self.bus = bus
        self.service = service
        self.event_types = list(event_types)
        self.callback = callback
        self.retry_delays_ms = list(retry_delays_ms)
        self.prefetch = prefetch
        self.connection = bus.connection()
        self.handled = 0

    def get_consumers(self, Consumer, channel):
        self.bus.declare(self.service, self.event_types, self.retry_delays_ms)
        consumer = Consumer(queues=[self.bus.service_queue(self.service, self.event_types)],
                            callbacks=[self.on_message], accept=["json"])
        consumer.qos(prefetch_count=self.prefetch)
        return [consumer]

    def on_message(self, body, message) -> None:
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0))
        try:
            payload = body if isinstance(body, dict) else json.loads(body)
            event = Event.from_dict(payload)
        except (InvalidEvent, ValueError, TypeError) as error:
            self._dead_letter(body, headers, f"not a valid event: {error}", message)
            return
        try:
            with correlation.bound(event.correlation_id):
                self.callback(event)
        except InvalidEvent as error:  # the data can never be handled: retrying would only delay the dead letter
            self._dead_letter(event.to_dict(), headers, f"invalid event data: {error}", message)
            return
        except Exception as error:
            if attempts < len(self.retry_delays_ms):
                self._retry(event, headers, attempts + 1, error, message)
            else:
                self._dead_letter(event.to_dict(), headers,
                                  "".join(traceback.format_exception_only(type(error), error)).strip(), message)
            return
        message.ack()
        self.handled += 1

    def _publish_direct(self, queue: Queue, body, headers) -> None:
        producer = Producer(self.connection.default_channel, serializer="json")
        queue(producer.channel).declare()
        # Bounded: an endless retry (a refused publish) would stall the consumer silently; failing here leaves the
        # message unacked, so the broker delivers it again.
        producer.publish(body, exchange="", routing_key=queue.name, delivery_mode=2, headers=headers, retry=True,
                         retry_policy={"max_retries": 3, "interval_start": 0.5, "interval_step": 1})

    def _retry(self, event: Event, headers: dict, attempt: int, error: Exception, message) -> None:
        delay = self.retry_delays_ms[attempt - 1]
        log.warning("event handler failed, retrying", extra={
            "event_id": event.id, "event_type": event.type, "attempt": attempt, "delay_ms": delay,
            "error": repr(error)})
        headers.update({ATTEMPTS_HEADER: attempt, ERROR_HEADER: repr(error)[:1000]})
        self._publish_direct(self.bus.retry_queue(self.service, attempt, delay), event.to_dict(), headers)
        message.ack()

    def _dead_letter(self, body, headers: dict, error: str, message) -> None:
        log.error("event dead-lettered", extra={
            "queue": self.bus.dead_letter_queue(self.service).name, "error": error,
            "event_id": body.get("id") if isinstance(body, dict) else None,
            "event_type": body.get("type") if isinstance(body, dict) else None})
        headers.update({ERROR_HEADER: error[:4000]})
        self._publish_direct(self.bus.dead_letter_queue(self.service), body, headers)
        message.ack()

    def run_until(self, stop: threading.Event) -> None:
        watcher = threading.Thread(target=lambda: (stop.wait(), setattr(self, "should_stop", True)), daemon=True)
        watcher.start()
        self.run()

    def drain_for(self, seconds: float) -> None:
        """Test helper: consume whatever arrives during `seconds`, then return."""
        import time
        deadline = time.monotonic() + seconds
        with self.Consumer() as (connection, channel, consumers):
            while time.monotonic() < deadline:
                try:
                    connection.drain_events(timeout=0.2)
                except socket.timeout:
                    pass
