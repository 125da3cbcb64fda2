"""Throughput of the bus.

Embedded SQLite bus, across processes: one process publishes `n_messages` events to a topic exchange; once they are
all stored, `consumers` processes drain that backlog concurrently, acknowledging each message; then
`Bus.publish_many` (one transaction per batch) publishes as many. Run it as
``python -m services.bench_bus 10000 /tmp/bench/bus.sqlite3``.

RabbitMQ (`run_amqp`, `assmat bench bus --broker-url amqp://...`): `Bus.publish_many`'s pipelined confirms beside
a plain kombu loop that waits for each confirm, on a throwaway namespace of that broker.
"""
from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

import uuid

from kombu import Connection, Exchange, Producer, Queue

from services.bus import Bus, sqlite_transport
from services.events import Event

EXCHANGE = Exchange("bench.events", type="topic")
QUEUE = Queue("bench.consumer", EXCHANGE, routing_key="bench.#")
# Long enough that no message comes back to a slow consumer mid-run and gets counted twice.
OPTIONS = {"visibility_timeout": 300, "polling_interval": 0.01}


def _publish(url: str, n_messages: int, results) -> None:
    sqlite_transport.register()
    with Connection(url, transport_options=OPTIONS) as conn:
        producer = Producer(conn.default_channel, exchange=EXCHANGE, serializer="json")
        started = time.time()
        for n in range(n_messages):
            producer.publish({"id": n, "type": "bench.created", "payload": "x" * 200}, routing_key="bench.created")
        results.put(("published", started, time.time(), None))


def _consume(url: str, results) -> None:
    sqlite_transport.register()
    received, first, last = [], None, None

    def on_message(body, message):
        nonlocal first, last
        first = first or time.time()
        received.append(body["id"])
        message.ack()
        last = time.time()

    with Connection(url, transport_options=OPTIONS) as conn:
        with conn.Consumer([QUEUE], callbacks=[on_message], accept=["json"]):
            # The backlog is complete before consumers start: half a second without a message means it is drained.
            while True:
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    break
    results.put(("consumed", first, last, received))


def run(n_messages: int, path, consumers: int = 2) -> dict:
    """Publish then consume `n_messages` through the database file at `path`; print and return the rates."""
    sqlite_transport.register()
    url = f"sqlitebus:///{Path(path).resolve()}"
    with Connection(url, transport_options=OPTIONS) as conn:
        QUEUE(conn.default_channel).declare()
        QUEUE(conn.default_channel).purge()

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    publisher = context.Process(target=_publish, args=(url, n_messages, results))
    publisher.start()
    _, published_from, published_to, _ = results.get()
    publisher.join()

    workers = [context.Process(target=_consume, args=(url, results)) for _ in range(consumers)]
    for worker in workers:
        worker.start()
    reports = [results.get() for _ in workers]
    for worker in workers:
        worker.join()

    spans = [(first, last) for _, first, last, received in reports if received]
    received = [event_id for *_, ids in reports for event_id in ids]
    consume_seconds = max(last for _, last in spans) - min(first for first, _ in spans) if spans else 0.0
    report = {
        "messages": n_messages,
        "consumers": consumers,
        "publish_seconds": published_to - published_from,
        "publish_per_second": n_messages / (published_to - published_from),
        "consume_seconds": consume_seconds,
        "consume_per_second": len(received) / consume_seconds if consume_seconds else 0.0,
        "per_consumer": [len(ids) for *_, ids in reports],
        "lost": n_messages - len(set(received)),
        "duplicated": len(received) - len(set(received)),
    }
    print(f"publish: {n_messages} msgs in {report['publish_seconds']:.2f}s"
          f" = {report['publish_per_second']:.0f} msgs/s (1 publisher process)")
    print(f"consume: {len(received)} msgs in {consume_seconds:.2f}s = {report['consume_per_second']:.0f} msgs/s"
          f" ({consumers} consumer processes, split {report['per_consumer']}, each message acked)")
    print(f"lost: {report['lost']}, duplicated: {report['duplicated']}")
    report["publish_many_per_second"] = _publish_many_rate(Bus(url, "bench"), n_messages)
    print(f"publish_many: {report['publish_many_per_second']:.0f} msgs/s (batches of {BATCH}, one transaction each)")
    return report


BATCH = 200  # the outbox relay's batch


def _events(count: int) -> list[Event]:
    return [Event(type="bench.created", version=1, subject=str(n), data={"payload": "x" * 200}, producer="bench")
            for n in range(count)]


def _publish_many_rate(bus: Bus, n_messages: int) -> float:
    bus.declare("bench", ["bench.created"], [])
    events = _events(n_messages)
    started = time.perf_counter()
    for start in range(0, n_messages, BATCH):
        refused = [reason for reason in bus.publish_many(events[start:start + BATCH]) if reason]
        if refused:
            raise RuntimeError(f"the broker refused {len(refused)} message(s): {refused[0]}")
    rate = n_messages / (time.perf_counter() - started)
    bus.close()
    return rate


def run_amqp(broker_url: str, n_messages: int = 10_000, plain_messages: int = 2_000) -> dict:
    """publish_many's rate on RabbitMQ beside a kombu loop with a confirm per message; prints and returns them."""
    namespace = f"bench_{uuid.uuid4().hex[:8]}"
    bus = Bus(broker_url, namespace, queue_expires_ms=120_000)
    try:
        pipelined = _publish_many_rate(bus, n_messages)
        with Connection(broker_url, transport_options={"confirm_publish": True}) as conn:
            producer = Producer(conn.default_channel, exchange=bus.exchange, serializer="json")
            events = _events(plain_messages)
            started = time.perf_counter()
            for event in events:
                producer.publish(event.to_dict(), routing_key=event.routing_key, delivery_mode=2,
                                 message_id=event.id, retry=False)
            plain = plain_messages / (time.perf_counter() - started)
    finally:
        with bus.connected() as conn:  # the broker keeps nothing of the run
            channel = conn.channel()
            for queue in (bus.queue_name("bench"), bus.dead_letter_queue_name("bench"), bus.unroutable_queue_name):
                channel.queue_delete(queue)
            channel.exchange_delete(bus.exchange.name)
            channel.exchange_delete(bus.unroutable_exchange.name)
    print(f"RabbitMQ publish_many: {n_messages} msgs = {pipelined:.0f} msgs/s "
          f"(batches of {BATCH}, confirms pipelined)")
    print(f"RabbitMQ kombu loop:   {plain_messages} msgs = {plain:.0f} msgs/s (a confirm awaited per message)")
    print(f"speed-up: x{pipelined / plain:.1f}")
    return {"publish_many_per_second": pipelined, "plain_per_second": plain}


if __name__ == "__main__":
    run(int(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:4]))
