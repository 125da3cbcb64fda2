"""The bus's topology and publishing, on both ways of running: unroutable events are kept, changed settings declare
new queues instead of failing, batches are confirmed together, and a stalled broker fails fast."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from services.bus import BrokerUnavailable, Bus, ServiceConsumer, each_event
from services.db import kernel_tables, make_engine, make_session_factory
from services.settings import BaseSettings
from services.testing import eventually, running
from services.testing import sample_event as event
from services.inbox import Subscription
from services.worker import serve_events

TYPES = ["agrement.granted"]



def drain(bus: Bus, service: str, types, seconds: float = 1.0, delays=(50,)) -> list[str]:
    received: list[str] = []
    ServiceConsumer(bus, service, types, each_event(lambda e: received.append(e.subject)), list(delays)).drain_for(
        seconds)
    return received


def test_an_event_no_queue_is_bound_to_is_kept_aside_and_the_consumer_warns_about_it(backbone, caplog):
    bus = backbone.bus()
    bus.publish(event("early", "mail.delivered"))  # confirmed, though no queue takes mail.delivered
    assert bus.waiting(bus.unroutable_queue_name) == 1
    with caplog.at_level("WARNING", logger="services.bus"):
        drain(bus, "fiche", TYPES, 0.5)
    [warning] = [record for record in caplog.records if "no queue was bound" in record.getMessage()]
    assert warning.queue == bus.unroutable_queue_name and warning.count == 1


def test_declare_topology_declares_every_consuming_service(backbone):
    bus = backbone.bus()
    bus.declare_topology({"fiche": ["agrement.granted", "place.located"], "identity": ["agrement.granted"]},
                         [100, 2000])
    for service in ("fiche", "identity"):
        for name in (bus.queue_name(service), bus.retry_queue_name(service, 100),
                     bus.retry_queue_name(service, 2000), bus.dead_letter_queue_name(service)):
            assert bus.waiting(name) == 0, name
    assert bus.retry_queue_name("fiche", 2000) == f"{backbone.namespace}.fiche.retry.2000ms"
    bus.publish_many([event("g"), event("p", "place.located")])
    assert sorted(drain(bus, "fiche", ["agrement.granted", "place.located"])) == ["g", "p"]
    assert drain(bus, "identity", TYPES) == ["g"]
    assert bus.waiting(bus.unroutable_queue_name) == 0


def test_changing_the_retry_delays_declares_new_retry_queues_instead_of_failing(backbone):
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [100, 200])
    bus.publish(event("poison"))
    failures = []

    def handle(events):
        failures.append(time.monotonic())
        raise ValueError("always")

    consumer = ServiceConsumer(bus, "fiche", TYPES, handle, [300], pause_backoff=(0.1, 0.2))
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 1, timeout=10)
    assert consumer.state == "consuming" and consumer.retried == 1
    assert failures[-1] - failures[-2] >= 0.29, "the new delay applies"
    assert bus.waiting(bus.retry_queue_name("fiche", 300)) == 0


@pytest.mark.parametrize("first, then", [("production", "local"), ("local", "production")])
def test_a_worker_consumes_whatever_its_environment_and_whatever_ran_before(backbone, first, then):
    engine = make_engine(backbone.database_url)
    kernel_tables(metadata := sa.MetaData())
    metadata.create_all(engine)
    seen: list[str] = []
    bus = backbone.bus()

    def run(environment: str, subject: str) -> None:
        settings = BaseSettings(environment=environment, broker_url=backbone.broker_url,
                                bus_namespace=backbone.namespace, database_url=backbone.database_url,
                                outbox_poll_seconds=0.05, consumer_retry_delays_ms="100")
        stop = threading.Event()
        worker = threading.Thread(target=serve_events, args=(
            "geo", settings, make_session_factory(engine),
            {"agrement.granted": Subscription(lambda uow, e: seen.append(e.subject))}, stop), daemon=True)
        worker.start()
        try:
            eventually(lambda: bus.waiting(bus.queue_name("geo")) is not None, timeout=10)
            bus.publish(event(subject))
            eventually(lambda: subject in seen, timeout=10, message=f"the {environment} worker consumed nothing")
        finally:
            stop.set()
            worker.join(timeout=15)

    run(first, "one")
    run(then, "two")
    engine.dispose()
    assert seen == ["one", "two"]


def test_publish_many_confirms_a_batch_in_order_and_reports_each_refusal(backbone):
    bus = backbone.bus(dead_letter_max_length=2)
    bus.declare("fiche", TYPES, [50])
    events = [event(f"e{n:03}") for n in range(300)]
    assert bus.publish_many(events) == [None] * 300
    assert drain(bus, "fiche", TYPES, 2.0) == [e.subject for e in events]
    # The unroutable queue is bounded like the dead letters: past the bound the broker refuses, nothing is dropped.
    refused = bus.publish_many([event(f"u{n}", "nobody.listens") for n in range(4)])
    assert refused[:2] == [None, None] and all(refused[2:])
    assert bus.waiting(bus.unroutable_queue_name) == 2


def test_a_stalled_rabbitmq_makes_publishing_fail_within_seconds(real_servers, tcp_proxy):
    proxy = tcp_proxy(real_servers.broker_url)
    namespace = f"{real_servers.namespace}_stall"
    Bus(real_servers.broker_url, namespace).declare("fiche", TYPES, [50])
    bus = Bus(proxy.url(real_servers.broker_url), namespace, heartbeat=1.0, confirm_timeout=1.5,
              connect_timeout=1.0)
    assert bus.publish_many([event("before")]) == [None]
    proxy.stall()
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="did not confirm"):
        bus.publish_many([event(f"during{n}") for n in range(50)])
    assert time.monotonic() - started < 3
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):  # a new connection cannot even complete its handshake
        bus.publish(event("still-stalled"))
    assert time.monotonic() - started < 3
    proxy.resume()
    assert bus.publish_many([event("after")]) == [None]


def test_a_consumer_notices_a_stalled_rabbitmq_through_heartbeats_and_comes_back(real_servers, tcp_proxy):
    proxy = tcp_proxy(real_servers.broker_url)
    namespace = f"{real_servers.namespace}_stallc"
    direct = Bus(real_servers.broker_url, namespace)
    bus = Bus(proxy.url(real_servers.broker_url), namespace, heartbeat=1.0, connect_timeout=1.0)
    handled: list[str] = []
    consumer = ServiceConsumer(bus, "fiche", TYPES, lambda events: handled.extend(e.subject for e in events), [50],
                               pause_backoff=(0.2, 0.5))
    with running(consumer):
        eventually(lambda: consumer.state == "consuming", timeout=10)
        proxy.stall()
        started = time.monotonic()
        eventually(lambda: consumer.state == "paused", timeout=10)
        assert time.monotonic() - started < 5, "two missed heartbeats and a bit"
        assert "broker unavailable" in consumer.state_detail
        proxy.resume()
        eventually(lambda: consumer.state == "consuming", timeout=10)
        direct.publish(event("after-the-stall"))
        eventually(lambda: handled == ["after-the-stall"], timeout=10)


def test_a_locked_sqlite_bus_makes_publishing_fail_within_its_busy_timeout(tmp_path):
    path = tmp_path / "bus.sqlite3"
    bus = Bus(f"sqlitebus:///{path}", "embedded", transport_options={"busy_timeout": 0.3})
    bus.declare("fiche", TYPES, [50])
    assert bus.publish_many([event("before")]) == [None]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process stuck in a write
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        bus.publish_many([event("during")])
    assert time.monotonic() - started < 2
    holder.execute("ROLLBACK")
    assert bus.publish_many([event("after")]) == [None]
    assert drain(bus, "fiche", TYPES, 0.5) == ["before", "after"]
