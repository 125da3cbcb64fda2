"""What the consumer does when something fails, on both ways of running: outages pause it and lose nothing, poison
goes through the retry queues to the dead letters, bodies that are not events are kept, a message that kills its
worker stops being redelivered, and a refused declaration shows as a failure."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from kombu import Exchange, Queue

from services import dlq
from services.bus import ServiceConsumer, connect
from services.db import make_engine
from services.events import Event, InvalidEvent
from services.testing import eventually, running
from services.testing import sample_event as event

TYPES = ["agrement.granted"]
metadata = sa.MetaData()
effects = sa.Table("effects", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("subject", sa.String(50), nullable=False, unique=True))



def collapsed(states: list[tuple[str, str]]) -> list[str]:
    names = [state for state, _ in states]
    return [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]


def dead_letters(bus, service="fiche"):
    return dlq.list_dead_letters(bus, [service], only=service)


@pytest.fixture
def outage(backbone, tcp_proxy):
    """(engine the handler uses, start(), end()): a database that becomes unreachable (PostgreSQL behind a proxy
    that cuts it off) or locked by another process (SQLite) until end()."""
    setup = make_engine(backbone.database_url)
    metadata.create_all(setup)
    setup.dispose()
    if backbone.amqp:
        proxy = tcp_proxy(backbone.database_url)
        engine = make_engine(proxy.url(backbone.database_url))
        yield engine, proxy.cut, proxy.resume
    else:
        release = threading.Event()
        locked = threading.Event()

        def hold_lock():
            holder = sqlite3.connect(backbone.database_url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait()
            holder.execute("ROLLBACK")
            holder.close()

        def start():
            release.clear()
            threading.Thread(target=hold_lock, daemon=True).start()
            locked.wait(5)

        engine = sa.create_engine(backbone.database_url, connect_args={"timeout": 0.1})
        yield engine, start, release.set
        release.set()
    engine.dispose()


def recorder(engine):
    def handle_batch(events):
        with engine.begin() as connection:
            connection.execute(effects.insert(), [{"subject": e.subject} for e in events])
    return handle_batch


def recorded(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(effects.c.subject)).scalars())


def test_a_database_outage_longer_than_the_retry_delays_pauses_consumption_and_dead_letters_nothing(
        backbone, outage):
    engine, start_outage, end_outage = outage
    bus = backbone.bus(heartbeat=1.0)
    bus.declare("fiche", TYPES, [100, 200])
    bus.publish_many([event(f"e{n}") for n in range(3)])
    states: list[tuple[str, str]] = []
    consumer = ServiceConsumer(bus, "fiche", TYPES, recorder(engine), [100, 200],
                               on_state=lambda state, detail: states.append((state, detail)),
                               pause_backoff=(0.1, 0.5))
    start_outage()
    with running(consumer):
        eventually(lambda: consumer.state == "paused", timeout=10)
        # Ten times the retry delays, and more than twice the heartbeat: the broker would drop a silent consumer.
        time.sleep(3.0)
        assert consumer.state == "paused" and consumer.handled == 0
        end_outage()
        eventually(lambda: consumer.handled == 3, timeout=15)
    assert recorded(engine) == ["e0", "e1", "e2"]
    assert consumer.dead_lettered == consumer.retried == 0
    assert dead_letters(bus) == []
    assert collapsed(states) == ["starting", "consuming", "paused", "consuming"], states
    assert not any("broker unavailable" in detail for _, detail in states), "the connection was kept alive"


def test_a_consumer_paused_by_an_outage_stops_when_asked_and_its_messages_go_back_to_the_queue(backbone, outage):
    engine, start_outage, end_outage = outage
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [100])
    bus.publish_many([event("kept-1"), event("kept-2")])
    consumer = ServiceConsumer(bus, "fiche", TYPES, recorder(engine), [100], pause_backoff=(0.2, 1.0))
    start_outage()
    with running(consumer) as stop:
        eventually(lambda: consumer.state == "paused", timeout=10)
        stopped_at = time.monotonic()
        stop.set()
    assert time.monotonic() - stopped_at < 3
    end_outage()
    again = ServiceConsumer(bus, "fiche", TYPES, recorder(engine), [100])
    with running(again):
        eventually(lambda: again.handled == 2, timeout=15)
    assert recorded(engine) == ["kept-1", "kept-2"] and dead_letters(bus) == []


def test_a_handler_working_longer_than_the_heartbeat_or_the_lease_keeps_its_messages(backbone):
    options = {} if backbone.amqp else {"transport_options": {"visibility_timeout": 0.5}}
    bus = backbone.bus(heartbeat=1.0, **options)
    bus.declare("fiche", TYPES, [50])
    bus.publish(event("slow"))
    handled: list[str] = []
    working = threading.Event()

    def slow(events):
        working.set()
        time.sleep(3.0)  # three heartbeats, six leases
        handled.extend(e.subject for e in events)

    states: list[tuple[str, str]] = []
    worker = ServiceConsumer(bus, "fiche", TYPES, slow, [50], on_state=lambda s, d: states.append((s, d)))
    thief = ServiceConsumer(bus, "fiche", TYPES, lambda events: handled.extend(e.subject for e in events), [50])
    with running(worker):
        assert working.wait(10)
        with running(thief):  # would take the message if its lease lapsed
            eventually(lambda: worker.handled == 1, timeout=10)
            time.sleep(0.5)
    assert handled == ["slow"] and thief.handled == 0
    assert collapsed(states) == ["starting", "consuming"], states


def test_poison_in_a_batch_is_found_by_replaying_the_batch_one_event_at_a_time(backbone):
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [50])
    calls: list[list[str]] = []
    handled: list[str] = []

    def handle_batch(events):
        calls.append([e.subject for e in events])
        if any(e.subject == "poison" for e in events):
            raise ValueError("cannot handle this one")
        handled.extend(e.subject for e in events)

    subjects = [f"ok{n}" for n in range(4)] + ["poison"] + [f"ok{n}" for n in range(4, 8)]
    bus.publish_many([event(subject) for subject in subjects])
    consumer = ServiceConsumer(bus, "fiche", TYPES, handle_batch, [50], batch_wait=0.05)
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 1 and consumer.handled == 8, timeout=15)
    assert len(calls[0]) > 1, "the waiting messages were handled as one batch"
    assert sorted(handled) == sorted(s for s in subjects if s != "poison"), "each good event handled once"
    assert consumer.retried == 1
    [letter] = dead_letters(bus)
    assert letter.subject == "poison" and letter.error == "ValueError: cannot handle this one"


def test_messages_already_waiting_are_handled_in_batches_of_at_most_batch_size(backbone):
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [50])
    assert bus.publish_many([event(f"e{n}") for n in range(250)]) == [None] * 250
    sizes: list[int] = []
    consumer = ServiceConsumer(bus, "fiche", TYPES, lambda events: sizes.append(len(events)), [50],
                               batch_size=100, batch_wait=0.05)
    with running(consumer):
        eventually(lambda: consumer.handled == 250, timeout=20)
    assert max(sizes) <= 100 and len(sizes) < 50, sizes


def test_bodies_that_are_not_events_are_dead_lettered_with_their_reason_not_dropped(backbone):
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [50])
    with bus.connection() as conn:
        producer = conn.Producer()
        for body, content_type in ((b"bonjour", "text/plain"), (b"{not json", "application/json"),
                                   (b'{"hello": "world"}', "application/json")):
            producer.publish(body, exchange=bus.exchange, routing_key="agrement.granted", content_type=content_type,
                             content_encoding="utf-8", declare=[bus.exchange])
    bus.publish(event("fine"))
    handled = []
    consumer = ServiceConsumer(bus, "fiche", TYPES, lambda events: handled.extend(e.subject for e in events), [50])
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 3 and handled == ["fine"], timeout=15)
    letters = dead_letters(bus)
    assert [letter.error for letter in letters] == [
        "not a valid event: InvalidEvent: content type 'text/plain' is not application/json",
        "not a valid event: InvalidEvent: body is not JSON (JSONDecodeError)",
        "not a valid event: InvalidEvent: event envelope lacks id, type, version, subject, data, producer, "
        "occurred_at"]
    assert letters[0].body == "bonjour" and letters[2].envelope == {"hello": "world"}
    assert consumer.retried == 0


def test_invalid_event_data_is_dead_lettered_at_once(backbone):
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [50, 50])
    bus.publish(event("unusable"))

    def handle_batch(events):
        raise InvalidEvent("agrément without a PMI number")

    consumer = ServiceConsumer(bus, "fiche", TYPES, handle_batch, [50, 50])
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 1, timeout=10)
    assert consumer.retried == 0
    [letter] = dead_letters(bus)
    assert letter.error == "invalid event data: InvalidEvent: agrément without a PMI number"


def test_dead_letters_and_logs_carry_the_error_but_no_sql_parameters(backbone, caplog):
    engine = make_engine(backbone.database_url)
    accounts = sa.Table("accounts", sa.MetaData(), sa.Column("email", sa.String(100), primary_key=True))
    accounts.metadata.create_all(engine)
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [50])
    bus.publish(event("duplicate"))

    def handle_batch(events):
        with engine.begin() as connection:  # the same row twice: the database refuses, quoting the value
            connection.execute(accounts.insert(), [{"email": "marie.secret@example.fr"}] * 2)

    consumer = ServiceConsumer(bus, "fiche", TYPES, handle_batch, [50])
    with caplog.at_level("INFO", logger="services.bus"), running(consumer):
        eventually(lambda: consumer.dead_lettered == 1, timeout=10)
    engine.dispose()
    [letter] = dead_letters(bus)
    assert letter.error.startswith("IntegrityError: ") and "INSERT INTO accounts" in letter.error
    assert "marie.secret" not in json.dumps(letter.headers)
    logged = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert any("IntegrityError" in line for line in logged)
    assert not any("marie.secret" in line for line in logged)


def test_a_message_handed_back_more_often_than_the_delivery_limit_is_dead_lettered(backbone):
    bus = backbone.bus(delivery_limit=1)
    bus.declare("fiche", TYPES, [50])
    bus.publish(event("handed-back"))
    queue = Queue(bus.queue_name("fiche"))
    for delivery in range(2):  # taken and given back unacknowledged, as by a consumer that dies
        with bus.connection() as conn:
            connect(conn)
            message = eventually(lambda: queue(conn.channel()).get(no_ack=False), timeout=5)
            assert message.payload["subject"] == "handed-back"
    with bus.connection() as conn:
        connect(conn)
        assert queue(conn.channel()).get(no_ack=False) is None, "a third delivery is one too many"
    [letter] = eventually(lambda: dead_letters(bus), timeout=5)
    assert letter.subject == "handed-back" and letter.error.startswith("delivery limit exceeded")


KILLER = r"""
import json, os, signal, sys
from services.bus import Bus, ServiceConsumer
spec = json.loads(sys.argv[1])
bus = Bus(spec["url"], spec["namespace"], delivery_limit=1, heartbeat=2.0, transport_options=spec["options"])

def handle_batch(events):
    for event in events:
        if event.data.get("kill"):  # as an out-of-memory kill would: no goodbye, nothing acknowledged
            os.kill(os.getpid(), signal.SIGKILL)
        print(event.subject, flush=True)

ServiceConsumer(bus, "fiche", ["agrement.granted"], handle_batch, [50], batch_size=1).drain_for(spec["seconds"])
"""


def test_a_message_that_kills_its_worker_is_dead_lettered_after_the_delivery_limit(backbone):
    bus = backbone.bus(delivery_limit=1)
    bus.declare("fiche", TYPES, [50])
    killer = Event(type="agrement.granted", version=1, subject="killer", data={"kill": True}, producer="test")
    bus.publish_many([killer, event("after")])
    options = {} if backbone.amqp else {"visibility_timeout": 0.5, "polling_interval": 0.02}

    def worker(seconds):
        spec = {"url": backbone.broker_url, "namespace": backbone.namespace, "options": options, "seconds": seconds}
        return subprocess.run([sys.executable, "-c", KILLER, json.dumps(spec)], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ))

    handled = []
    for _ in range(2):
        died = worker(10)
        assert died.returncode == -signal.SIGKILL, died.stderr
        handled += died.stdout.split()
    survivor = worker(3)
    assert survivor.returncode == 0, survivor.stderr
    assert handled + survivor.stdout.split() == ["after"], "the queue moved on"
    [letter] = eventually(lambda: dead_letters(bus), timeout=5)
    assert letter.id == killer.id and letter.error.startswith("delivery limit exceeded")


def test_a_queue_changed_by_hand_makes_the_consumer_report_failed_until_it_is_fixed(backbone):
    bus = backbone.bus()
    with bus.connection() as conn:  # someone made the exchange a direct one
        connect(conn)
        Exchange(bus.exchange.name, type="direct", durable=True)(conn.channel()).declare()
    states: list[tuple[str, str]] = []
    consumer = ServiceConsumer(bus, "fiche", TYPES, lambda events: None, [50], failed_retry_seconds=0.3,
                               on_state=lambda state, detail: states.append((state, detail)))
    with running(consumer):
        eventually(lambda: consumer.state == "failed", timeout=10)
        assert "declaration refused" in consumer.state_detail
        time.sleep(1)
        assert consumer.state == "failed", "it keeps failing, and never looks healthy"
        with bus.connection() as conn:
            connect(conn)
            conn.channel().exchange_delete(bus.exchange.name)
        eventually(lambda: consumer.state == "consuming", timeout=10)
        bus.publish(event("after-the-fix"))
        eventually(lambda: consumer.handled == 1, timeout=10)
    assert collapsed(states) == ["starting", "failed", "consuming"]


def test_a_main_queue_of_another_type_on_rabbitmq_is_reported_as_failed(real_servers):
    from services.bus import Bus
    bus = Bus(real_servers.broker_url, f"{real_servers.namespace}_classic", heartbeat=2.0)
    with bus.connection() as conn:  # as main made it outside production, or someone by hand
        connect(conn)
        Queue(bus.queue_name("fiche"), durable=True,
              queue_arguments={"x-expires": 600000})(conn.channel()).declare()
    consumer = ServiceConsumer(bus, "fiche", TYPES, lambda events: None, [50], failed_retry_seconds=0.3)
    with running(consumer):
        eventually(lambda: consumer.state == "failed", timeout=10)
        assert "PRECONDITION_FAILED" in consumer.state_detail
        with bus.connection() as conn:
            connect(conn)
            conn.channel().queue_delete(bus.queue_name("fiche"))
        eventually(lambda: consumer.state == "consuming", timeout=10)


def test_a_full_dead_letter_queue_pauses_the_consumer_instead_of_losing_the_poison(backbone):
    bus = backbone.bus(dead_letter_max_length=1)
    bus.declare("fiche", TYPES, [])
    bus.publish(event("first-poison"))
    bus.publish(event("second-poison"))

    def handle_batch(events):
        raise ValueError("always fails")

    consumer = ServiceConsumer(bus, "fiche", TYPES, handle_batch, [], batch_size=1, pause_backoff=(0.1, 0.3))
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 1 and consumer.state == "paused", timeout=10)
        assert "refused" in consumer.state_detail
        assert dlq.purge(bus, ["fiche"], only="fiche").done  # an operator makes room
        eventually(lambda: consumer.dead_lettered == 2 and consumer.state == "consuming", timeout=10)
    assert [letter.subject for letter in dead_letters(bus)] == ["second-poison"]
