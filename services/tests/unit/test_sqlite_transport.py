"""The SQLite bus transport within one process: real database files, kombu's public API."""
import sqlite3
import time

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.virtual.base import NotEquivalentError

from services.bus import sqlite_transport

sqlite_transport.register()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "bus.sqlite3"


@pytest.fixture
def url(db_path):
    return f"sqlitebus:///{db_path}"


def connect(url, **options):
    return Connection(url, transport_options={"polling_interval": 0.01, **options})


def stored_messages(db_path):
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def work_queue(name="work"):
    return Queue(name, Exchange(name, type="direct"), routing_key=name)


def publish(conn, body, exchange, routing_key):
    Producer(conn.default_channel, exchange=exchange, serializer="json").publish(body, routing_key=routing_key)


def declare(conn, *queues):
    for queue in queues:
        queue(conn.default_channel).declare()


def get(conn, queue):
    return queue(conn.default_channel).get(accept=["json"])


def test_register_is_idempotent_and_resolves_urls(url):
    sqlite_transport.register()
    sqlite_transport.register()
    assert TRANSPORT_ALIASES["sqlitebus"] == "services.bus.sqlite_transport:Transport"
    with Connection(url) as conn:
        assert conn.transport_cls == "sqlitebus"
        assert isinstance(conn.transport, sqlite_transport.Transport)


@pytest.mark.parametrize("bad_url", ["sqlitebus:///relative/bus.sqlite3", "sqlitebus://"])
def test_a_relative_or_missing_path_is_refused(bad_url):
    with Connection(bad_url) as conn, pytest.raises(ValueError, match="four slashes"):
        conn.connect()


def test_a_missing_directory_is_created(tmp_path):
    path = tmp_path / "not" / "yet" / "bus.sqlite3"
    with Connection(f"sqlitebus:///{path}") as conn:
        conn.connect()
    assert path.is_file()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_put_get_ack_removes_the_message(url, db_path):
    queue = work_queue()
    with connect(url, visibility_timeout=0.1) as conn:
        declare(conn, queue)
        publish(conn, {"n": 1}, queue.exchange, "work")
        message = get(conn, queue)
        assert message.payload == {"n": 1}
        assert message.delivery_info["redelivered"] is False
        message.ack()
        time.sleep(0.15)
        assert get(conn, queue) is None
    assert stored_messages(db_path) == 0


def test_messages_come_out_in_publication_order(url):
    queue = work_queue()
    with connect(url) as conn:
        declare(conn, queue)
        for n in range(5):
            publish(conn, {"n": n}, queue.exchange, "work")
        received = []
        for _ in range(5):
            message = get(conn, queue)
            received.append(message.payload["n"])
            message.ack()
    assert received == [0, 1, 2, 3, 4]


def test_requeue_makes_the_message_available_again(url):
    queue = work_queue()
    with connect(url) as conn:
        declare(conn, queue)
        publish(conn, {"n": 1}, queue.exchange, "work")
        first = get(conn, queue)
        assert get(conn, queue) is None
        first.requeue()
        again = get(conn, queue)
        assert again.payload == {"n": 1}
        assert again.delivery_info["redelivered"] is True
        assert again.delivery_tag != first.delivery_tag
        again.ack()


def test_reject_without_requeue_drops_the_message(url, db_path):
    queue = work_queue()
    with connect(url) as conn:
        declare(conn, queue)
        publish(conn, {"n": 1}, queue.exchange, "work")
        get(conn, queue).reject()
    assert stored_messages(db_path) == 0


def test_an_expired_lease_hands_the_message_to_another_consumer(url, db_path):
    queue = work_queue()
    with connect(url, visibility_timeout=0.3) as slow, connect(url) as other:
        declare(slow, queue)
        publish(slow, {"n": 1}, queue.exchange, "work")
        taken = get(slow, queue)
        assert get(other, queue) is None, "a leased message must stay invisible"
        time.sleep(0.4)
        retaken = get(other, queue)
        assert retaken.payload == {"n": 1}
        assert retaken.delivery_info["redelivered"] is True
        taken.ack()  # too late: the lease now belongs to `other`
        assert stored_messages(db_path) == 1
        retaken.ack()
    assert stored_messages(db_path) == 0


def test_closing_a_channel_releases_its_unacked_messages(url):
    queue = work_queue()
    with connect(url) as other:
        declare(other, queue)
        publish(other, {"n": 1}, queue.exchange, "work")
        with connect(url) as closing:
            assert get(closing, queue).payload == {"n": 1}
        assert get(other, queue).payload == {"n": 1}


def test_a_no_ack_consumer_takes_messages_for_good(url, db_path):
    queue = work_queue()
    received = []
    with connect(url, visibility_timeout=0.05) as conn:
        declare(conn, queue)
        publish(conn, {"n": 1}, queue.exchange, "work")
        with Consumer(conn, [queue], callbacks=[lambda body, message: received.append(body)], no_ack=True,
                      accept=["json"]):
            conn.drain_events(timeout=1)
    assert received == [{"n": 1}]
    assert stored_messages(db_path) == 0


def test_a_ttl_queue_dead_letters_into_its_target_after_the_delay(url):
    target = Queue("svc", durable=True)
    retry = Queue("svc.retry.1", durable=True, queue_arguments={
        "x-message-ttl": 300, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "svc"})
    with connect(url) as conn:
        declare(conn, target, retry)
        publish(conn, {"n": 1}, Exchange(""), "svc.retry.1")
        assert get(conn, target) is None, "delivered before the ttl"
        time.sleep(0.35)
        assert get(conn, retry) is None, "the delay queue itself stays empty"
        message = get(conn, target)
        assert message.payload == {"n": 1}
        assert message.delivery_info["routing_key"] == "svc"
        message.ack()


def test_messages_that_no_binding_routes_are_dropped(url, db_path):
    events = Exchange("events", type="topic")
    with connect(url) as conn:
        declare(conn, Queue("svc_a", events, routing_key="agrement.*"))
        publish(conn, {"n": 1}, events, "fiche.created")
        publish(conn, {"n": 2}, Exchange(""), "never_declared")
    assert stored_messages(db_path) == 0


@pytest.mark.parametrize("kind, binding_key, routing_key", [
    ("direct", "agrement.granted", "agrement.granted"),
    ("topic", "agrement.#", "agrement.granted.v2"),
    ("fanout", "", "anything"),
])
def test_bindings_made_on_one_connection_route_messages_published_on_another(url, kind, binding_key,
                                                                             routing_key):
    exchange = Exchange("events", type=kind)
    queues = [Queue(name, exchange, routing_key=binding_key) for name in ("svc_a", "svc_b")]
    with connect(url) as consumer_side:
        declare(consumer_side, *queues)
        # A separate Connection has its own kombu transport, hence no in-memory state in common.
        with connect(url) as publisher_side:
            publish(publisher_side, {"kind": kind}, Exchange("events", type=kind), routing_key)
        for queue in queues:
            assert get(consumer_side, queue).payload == {"kind": kind}


def test_an_exchange_redeclared_with_another_type_is_refused(url):
    with connect(url) as first, connect(url) as second:
        Exchange("events", type="topic")(first.default_channel).declare()
        with pytest.raises(NotEquivalentError):
            Exchange("events", type="direct")(second.default_channel).declare()


def test_queue_size_purge_and_delete(url, db_path):
    queue = work_queue()
    with connect(url) as conn:
        declare(conn, queue)
        for n in range(3):
            publish(conn, {"n": n}, queue.exchange, "work")
        leased = get(conn, queue)
        assert queue(conn.default_channel).queue_declare(passive=True).message_count == 2
        assert queue(conn.default_channel).purge() == 2
        leased.ack()
        publish(conn, {"n": 3}, queue.exchange, "work")
        queue(conn.default_channel).delete()
        publish(conn, {"n": 4}, queue.exchange, "work")
    assert stored_messages(db_path) == 0
