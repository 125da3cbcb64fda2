"""The SQLite bus transport across OS processes: routing, exactly-one delivery, redelivery after kill -9."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.bus import sqlite_transport

sqlite_transport.register()

# Runs in a fresh interpreter. Consumers print "ready", then the [id, redelivered] pairs they received once
# they hold `expected` messages and nothing more arrived for `quiet` seconds - so duplicates get counted.
WORKER = r"""
import json, sys, time
from kombu import Connection, Consumer, Exchange, Producer, Queue
from services.bus import sqlite_transport

sqlite_transport.register()
spec = json.loads(sys.argv[1])
options = {"polling_interval": 0.01, "visibility_timeout": spec.get("visibility_timeout", 30)}
with Connection(spec["url"], transport_options=options) as conn:
    exchange = Exchange(spec["exchange"], type=spec["type"])
    if spec["role"] == "publish":
        producer = Producer(conn.default_channel, exchange=exchange, serializer="json")
        for event in spec["events"]:
            producer.publish(event, routing_key=event["type"])
        print(json.dumps("published"), flush=True)
        sys.exit()
    received = []

    def on_message(body, message):
        received.append([body["id"], message.delivery_info["redelivered"]])
        if spec.get("hold"):
            print(json.dumps(body["id"]), flush=True)
            time.sleep(3600)
        time.sleep(spec.get("work", 0))
        message.ack()

    queue = Queue(spec["queue"], exchange, routing_key=spec["binding"])
    with conn.Consumer([queue], callbacks=[on_message], accept=["json"]):
        print(json.dumps("ready"), flush=True)
        if spec.get("wait_for_go"):
            sys.stdin.readline()
        deadline = time.monotonic() + 15
        last = time.monotonic()
        while time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=0.05)
                last = time.monotonic()
            except TimeoutError:
                if len(received) >= spec["expected"] and time.monotonic() - last > spec["quiet"]:
                    break
    print(json.dumps(received), flush=True)
"""

EOF = object()


class Worker:
    def __init__(self, spec):
        kernel = Path(sqlite_transport.__file__).resolve().parents[2]
        path = os.pathsep.join(filter(None, [str(kernel), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path)
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(spec)], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(EOF)

    def read(self, timeout=15):
        try:
            item = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"worker {self.proc.args[-1]} said nothing for {timeout}s")
        if item is EOF:
            self.proc.wait(timeout=5)
            pytest.fail(f"worker exited with {self.proc.returncode}: {self.proc.stderr.read()}")
        return item

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()


@pytest.fixture
def spawn():
    workers = []

    def start(**spec):
        workers.append(Worker(spec))
        return workers[-1]

    yield start
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.proc.wait(timeout=5)


@pytest.fixture
def url(tmp_path):
    return f"sqlitebus:///{tmp_path / 'bus.sqlite3'}"


def ids(received):
    return sorted(event_id for event_id, _ in received)


def test_topic_bindings_declared_by_consumer_processes_route_a_third_process_events(url, spawn):
    events = [{"id": n, "type": ("agrement.granted", "agrement.modified", "fiche.created")[n % 3]}
              for n in range(240)]
    common = {"url": url, "role": "consume", "exchange": "agrement", "type": "topic", "quiet": 0.5}
    svc_a = spawn(**common, queue="svc_a", binding="agrement.*", expected=160)
    svc_b = spawn(**common, queue="svc_b", binding="agrement.granted", expected=80)
    assert svc_a.read() == svc_b.read() == "ready"

    # The publisher declares no queue: it only knows the bindings through the database.
    publisher = spawn(url=url, role="publish", exchange="agrement", type="topic", events=events)
    assert publisher.read() == "published"

    assert ids(svc_a.read()) == [e["id"] for e in events if e["type"].startswith("agrement.")]
    assert ids(svc_b.read()) == [e["id"] for e in events if e["type"] == "agrement.granted"]


def test_two_processes_consuming_one_queue_get_each_message_exactly_once(url, spawn):
    work = Queue("work", Exchange("work", type="direct"), routing_key="work")
    with Connection(url) as conn:
        work(conn.default_channel).declare()
        producer = Producer(conn.default_channel, exchange=work.exchange, serializer="json")
        for n in range(400):
            producer.publish({"id": n}, routing_key="work")

    common = {"url": url, "role": "consume", "exchange": "work", "type": "direct", "queue": "work",
              "binding": "work", "expected": 1, "quiet": 0.5, "work": 0.001, "wait_for_go": True}
    consumers = [spawn(**common), spawn(**common)]
    assert [c.read() for c in consumers] == ["ready", "ready"]
    for consumer in consumers:
        consumer.go()
    first, second = (consumer.read() for consumer in consumers)

    assert first and second, "both processes should have competed for the backlog"
    assert ids(first + second) == list(range(400))


def test_a_message_held_by_a_killed_consumer_is_redelivered_after_the_visibility_timeout(url, spawn):
    work = Queue("work", Exchange("work", type="direct"), routing_key="work")
    common = {"url": url, "role": "consume", "exchange": "work", "type": "direct", "queue": "work",
              "binding": "work", "quiet": 0.3}
    with Connection(url) as conn:
        work(conn.default_channel).declare()
        producer = Producer(conn.default_channel, exchange=work.exchange, serializer="json")
        for n in range(3):
            producer.publish({"id": n}, routing_key="work")

        doomed = spawn(**common, expected=1, hold=True, visibility_timeout=1.5)
        assert doomed.read() == "ready"
        assert doomed.read() == 0
        doomed.proc.send_signal(signal.SIGKILL)
        assert doomed.proc.wait(timeout=5) == -signal.SIGKILL
        assert work(conn.default_channel).queue_declare(passive=True).message_count == 2, \
            "the message taken by the killed consumer must stay leased until its lease expires"

    survivor = spawn(**common, expected=3)
    assert survivor.read() == "ready"
    assert sorted(survivor.read()) == [[0, True], [1, False], [2, False]]
