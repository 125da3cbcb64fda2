"""Throughput of the embedded SQLite bus across processes.

One process publishes `n_messages` events to a topic exchange; once they are all stored, `consumers`
processes drain that backlog concurrently, acknowledging each message. Run it as
``python -m services.bench_bus 10000 /tmp/bench/bus.sqlite3``.
"""
from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

from kombu import Connection, Exchange, Producer, Queue

from services.bus import sqlite_transport

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
    return report


if __name__ == "__main__":
    run(int(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:4]))
