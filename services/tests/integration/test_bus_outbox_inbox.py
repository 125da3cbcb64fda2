"""The bus, the outbox relay and the inbox against real servers (PostgreSQL + RabbitMQ), and the same behaviour on
the embedded pair (SQLite + the SQLite bus transport)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from services.bus import ERROR_HEADER, Bus, ServiceConsumer, each_event
from services.db import UnitOfWork, kernel_tables, make_engine, make_session_factory
from services.events import Event
from services.inbox import handle_once
from services.outbox import OUTBOX, OutboxRelay
from services.settings import BaseSettings
from services.inbox import Subscription
from services.testing import eventually
from services.worker import serve_events

metadata = sa.MetaData()
kernel_tables(metadata)
effects = sa.Table("effects", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("subject", sa.String(50), nullable=False))


@pytest.fixture(params=["postgres+rabbitmq", "sqlite+sqlitebus"])
def stack(request, tmp_path):
    """(session_factory, bus factory) on one of the two ways of running."""
    if request.param == "postgres+rabbitmq":
        servers = request.getfixturevalue("real_servers")
        database_url = servers.database(f"kernel_{uuid.uuid4().hex[:6]}")
        broker_url, namespace = servers.broker_url, f"{servers.namespace}_{uuid.uuid4().hex[:6]}"
    else:
        database_url = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
        broker_url, namespace = f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", "embedded"
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield make_session_factory(engine), lambda: Bus(broker_url, namespace), (broker_url, namespace, database_url)
    engine.dispose()


def event(subject: str, type_: str = "agrement.granted") -> Event:
    return Event(type=type_, version=1, subject=subject, data={"n": subject}, producer="test")


def consume(bus: Bus, service: str, types: list[str], callback, seconds: float, delays=(100, 200)) -> ServiceConsumer:
    consumer = ServiceConsumer(bus, service, types, each_event(callback), list(delays))
    consumer.drain_for(seconds)
    return consumer


def test_outbox_relay_publishes_committed_events_once_and_marks_them_sent(stack):
    session_factory, make_bus, _ = stack
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted"], [100])
    with UnitOfWork(session_factory) as uow:
        for subject in ("a", "b", "c"):
            uow.add_event(event(subject))
        uow.commit()
    with UnitOfWork(session_factory) as uow:  # rolled back: must never be published
        uow.add_event(event("rolled-back"))
    relay = OutboxRelay(session_factory, bus)
    assert relay.run_once() == 3
    assert relay.run_once() == 0 and relay.pending() == 0
    received = []
    consume(bus, "fiche", ["agrement.granted"], lambda e: received.append(e.subject), 1.5)
    assert received == ["a", "b", "c"]


def test_a_broker_outage_delays_events_and_never_loses_them(stack):
    session_factory, make_bus, (broker_url, namespace, _) = stack
    with UnitOfWork(session_factory) as uow:
        uow.add_event(event("during-outage"))
        uow.commit()
    dead_url = "amqp://guest:guest@127.0.0.1:1//" if broker_url.startswith("amqp") else "sqlitebus:///"
    broken = OutboxRelay(session_factory, Bus(dead_url, namespace, connect_timeout=0.5))
    assert broken.run_once() == 0
    with session_factory() as session:
        attempts, error = session.execute(sa.select(OUTBOX.c.attempts, OUTBOX.c.last_error)).one()
    # An outage is not the event's fault: it counts no attempt (attempts lead to parking), the relay says so.
    assert attempts == 0 and error.startswith("broker unavailable")
    assert broken.state == "unavailable" and broken.detail.startswith("broker unavailable since")
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted"], [100])
    assert OutboxRelay(session_factory, bus).run_once() == 1
    received = []
    consume(bus, "fiche", ["agrement.granted"], lambda e: received.append(e.subject), 1.0)
    assert received == ["during-outage"]


def test_each_service_queue_gets_only_the_types_it_is_bound_to(stack):
    _, make_bus, _ = stack
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted", "place.located"], [100])
    bus.declare("identity", ["agrement.granted"], [100])
    for e in (event("g1"), event("p1", "place.located"), event("x1", "mail.delivered")):
        bus.publish(e)
    fiche, identity = [], []
    consume(bus, "fiche", ["agrement.granted", "place.located"], lambda e: fiche.append(e.subject), 1.0)
    consume(bus, "identity", ["agrement.granted"], lambda e: identity.append(e.subject), 1.0)
    assert sorted(fiche) == ["g1", "p1"] and identity == ["g1"]


def test_a_poison_event_is_retried_then_dead_lettered_with_its_error_and_the_queue_moves_on(stack):
    _, make_bus, _ = stack
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted"], [100, 200])
    attempts, handled = [], []

    def handler(e: Event) -> None:
        if e.subject == "poison":
            attempts.append(time.monotonic())
            raise ValueError("cannot handle this one")
        handled.append(e.subject)

    bus.publish(event("poison"))
    bus.publish(event("fine"))
    with bus.connection() as conn:  # not even an event: straight to the dead letters, no retry
        conn.Producer(serializer="json").publish({"hello": "world"}, exchange=bus.exchange,
                                                  routing_key="agrement.granted", declare=[bus.exchange])
    consumer = consume(bus, "fiche", ["agrement.granted"], handler, 3.0)
    assert handled == ["fine"]
    # A batch that fails is replayed one event at a time, so the first delivery may call the handler twice.
    assert consumer.retried == 2 and consumer.dead_lettered == 2, "one try and two retries; one not an event"
    assert len(attempts) in (3, 4)
    assert attempts[-2] - attempts[-3] >= 0.09 and attempts[-1] - attempts[-2] >= 0.19, "backoff grows"
    with bus.connection() as conn:
        dead = bus.dead_letter_queue("fiche")(conn.default_channel)
        letters = [dead.get(no_ack=True) for _ in range(2)]
    errors = sorted(letter.headers[ERROR_HEADER] for letter in letters)
    assert "cannot handle this one" in errors[0] and errors[1].startswith("not a valid event")


def test_batches_are_settled_exactly_even_around_poison_and_garbage(stack):
    """On RabbitMQ a batch is acknowledged with one frame (`multiple`): it must settle that batch and nothing else,
    whatever was taken out of the batches before it (retried, dead-lettered)."""
    _, make_bus, _ = stack
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted"], [100])
    good = []
    for n in range(40):
        if n == 12:
            bus.publish(event("poison"))
        elif n == 25:
            with bus.connection() as conn:
                conn.Producer(serializer="json").publish({"hello": "world"}, exchange=bus.exchange,
                                                          routing_key="agrement.granted", declare=[bus.exchange])
        else:
            good.append(f"e{n}")
            bus.publish(event(good[-1]))
    handled = []

    def handle(events):  # all or nothing, as a transaction
        if any(e.subject == "poison" for e in events):
            raise ValueError("cannot handle this one")
        handled.extend(e.subject for e in events)

    consumer = ServiceConsumer(bus, "fiche", ["agrement.granted"], handle, [100], prefetch=40, batch_size=10)
    consumer.drain_for(3.0)
    assert sorted(handled) == sorted(good), "each good event once"
    assert consumer.retried == 1 and consumer.dead_lettered == 2
    again = []
    ServiceConsumer(bus, "fiche", ["agrement.granted"], lambda events: again.extend(events), [100]).drain_for(1.0)
    assert again == [], "nothing left unacknowledged to come back"


def test_inbox_makes_a_redelivered_event_a_no_op(stack):
    session_factory, _, _ = stack

    def handler(uow, e):
        uow.session.execute(effects.insert().values(subject=e.subject))

    once = event("same")
    assert handle_once(session_factory, handler, once) is True
    assert handle_once(session_factory, handler, once) is False
    with session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(effects)).scalar_one() == 1


def test_a_failing_handler_leaves_no_effect_and_no_inbox_record(stack):
    session_factory, _, _ = stack
    failing = event("fails")

    def handler(uow, e):
        uow.session.execute(effects.insert().values(subject=e.subject))
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError):
        handle_once(session_factory, handler, failing)
    assert handle_once(session_factory, lambda uow, e: None, failing) is True


def test_worker_consumes_and_relays_what_its_handlers_record(stack):
    session_factory, make_bus, (broker_url, namespace, database_url) = stack
    settings = BaseSettings(broker_url=broker_url, bus_namespace=namespace, database_url=database_url,
                            outbox_poll_seconds=0.05, consumer_retry_delays_ms="100")
    bus = make_bus()
    bus.declare("geo", ["agrement.granted"], [100])
    bus.declare("fiche", ["place.located"], [100])

    def locate(uow, e):
        uow.session.execute(effects.insert().values(subject=e.subject))
        uow.add_event(event(e.subject, "place.located"))

    stop = threading.Event()
    worker = threading.Thread(target=serve_events, args=("geo", settings, session_factory,
                                                         {"agrement.granted": Subscription(locate, ordered=True)},
                                                         stop))
    worker.start()
    try:
        for subject in ("w1", "w2"):
            bus.publish(event(subject))
        located = []
        deadline = time.monotonic() + 10
        while len(located) < 2 and time.monotonic() < deadline:
            consume(bus, "fiche", ["place.located"], lambda e: located.append(e.subject), 0.5)
    finally:
        stop.set()
        worker.join(timeout=15)
    assert sorted(located) == ["w1", "w2"]
    assert not worker.is_alive()


def test_pruning_removes_sent_events_and_old_inbox_ids_but_never_unsent_events(stack):
    import datetime as dt

    from services import inbox
    session_factory, make_bus, _ = stack
    bus = make_bus()
    bus.declare("fiche", ["agrement.granted"], [100])
    with UnitOfWork(session_factory) as uow:
        uow.add_event(event("sent"))
        uow.commit()
    relay = OutboxRelay(session_factory, bus)
    relay.run_once()
    with UnitOfWork(session_factory) as uow:
        uow.add_event(event("not-yet-sent"))
        uow.commit()
    handle_once(session_factory, lambda uow, e: None, event("handled"))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    assert relay.prune(later) == 1
    assert relay.pending() == 1, "an unsent event is never pruned"
    assert inbox.prune(session_factory, later) == 1


def test_test_runs_queues_expire_once_unused_so_a_shared_broker_does_not_fill_up(real_servers):
    from amqp.exceptions import NotFound
    bus = Bus(real_servers.broker_url, f"{real_servers.namespace}_expiry", queue_expires_ms=300)
    bus.declare("fiche", ["agrement.granted"], [100])
    with bus.connection() as conn:  # there right after declaring
        bus.service_queue("fiche", ["agrement.granted"])(conn.channel()).queue_declare(passive=True)
    time.sleep(1.5)
    for queue in (bus.retry_queue("fiche", 100), bus.dead_letter_queue("fiche"), bus.unroutable_queue()):
        with bus.connection() as conn, pytest.raises(NotFound):
            queue(conn.channel()).queue_declare(passive=True)
    # A quorum queue checks its expiry every few seconds only.
    assert eventually(lambda: bus.waiting(bus.queue_name("fiche")) is None, timeout=15)
