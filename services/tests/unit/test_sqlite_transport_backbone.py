"""What the SQLite bus transport emulates of RabbitMQ for the event backbone: alternate exchanges (and the upgrade of
an older bus file), delivery limits, bounded queues, batches in one transaction, lease renewal, mandatory publishes."""
import json
import sqlite3
import time

import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.bus import sqlite_transport
from services.bus.sqlite_transport import PublishRefused

sqlite_transport.register()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "bus.sqlite3"


@pytest.fixture
def url(db_path):
    return f"sqlitebus:///{db_path}"


def connect(url, **options):
    return Connection(url, transport_options={"polling_interval": 0.01, **options})


def publish(conn, body, exchange, routing_key, **kwargs):
    Producer(conn.default_channel, exchange=exchange, serializer="json").publish(body, routing_key=routing_key,
                                                                                 **kwargs)


def get(conn, queue):
    return queue(conn.default_channel).get(accept=["json"])


def rows(db_path, sql, *params):
    with sqlite3.connect(db_path) as db:
        return db.execute(sql, params).fetchall()


EVENTS = Exchange("ns.events", type="topic", durable=True, arguments={"alternate-exchange": "ns.unroutable"})
UNROUTABLE = Exchange("ns.unroutable", type="fanout", durable=True)


def declare_events(conn):
    Queue("ns.unroutable", UNROUTABLE, durable=True)(conn.default_channel).declare()
    EVENTS(conn.default_channel).declare()


def test_a_message_no_binding_routes_goes_to_the_alternate_exchange(url):
    bound = Queue("ns.fiche", EVENTS, routing_key="agrement.*", durable=True)
    with connect(url) as conn:
        declare_events(conn)
        bound(conn.default_channel).declare()
        publish(conn, {"n": 1}, EVENTS, "agrement.granted")
        publish(conn, {"n": 2}, EVENTS, "mail.delivered")
        assert get(conn, bound).payload == {"n": 1}
        kept = get(conn, Queue("ns.unroutable"))
        assert kept.payload == {"n": 2}
        assert kept.delivery_info["routing_key"] == "mail.delivered", "the key stays, for a replay"


def test_an_older_bus_file_gets_exchange_arguments_in_place_and_keeps_its_data(url, db_path):
    with sqlite3.connect(db_path) as db:  # the schema before exchanges had arguments
        db.executescript("""
            CREATE TABLE exchanges (name TEXT PRIMARY KEY, type TEXT NOT NULL, durable INTEGER NOT NULL);
            CREATE TABLE queues (name TEXT PRIMARY KEY, arguments TEXT NOT NULL);
            CREATE TABLE bindings (exchange TEXT NOT NULL, routing_key TEXT NOT NULL, pattern TEXT,
                                   queue TEXT NOT NULL, PRIMARY KEY (exchange, routing_key, queue));
            INSERT INTO exchanges VALUES ('ns.events', 'topic', 1);
            INSERT INTO queues VALUES ('ns.fiche', '{}');
            INSERT INTO bindings VALUES ('ns.events', 'agrement.granted', '^agrement\\.granted$', 'ns.fiche');
        """)
    with connect(url) as conn:
        conn.connect()
        assert rows(db_path, "SELECT name, arguments FROM exchanges") == [("ns.events", "{}")]
        publish(conn, {"n": 1}, Exchange("ns.events", type="topic", durable=True), "agrement.granted")
        assert get(conn, Queue("ns.fiche")).payload == {"n": 1}, "old bindings still route"
        declare_events(conn)  # the new declaration adds the alternate exchange to the existing one
        publish(conn, {"n": 2}, EVENTS, "mail.delivered")
        assert get(conn, Queue("ns.unroutable")).payload == {"n": 2}
    assert json.loads(rows(db_path, "SELECT arguments FROM exchanges WHERE name = 'ns.events'")[0][0]) == {
        "alternate-exchange": "ns.unroutable"}


def test_a_message_delivered_more_than_the_limit_is_dead_lettered_with_the_reason(url):
    main = Queue("ns.fiche", durable=True, queue_arguments={
        "x-delivery-limit": 2, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "ns.fiche.dead"})
    dead = Queue("ns.fiche.dead", durable=True)
    with connect(url, visibility_timeout=0.05) as conn:
        dead(conn.default_channel).declare()
        main(conn.default_channel).declare()
        publish(conn, {"n": 1}, Exchange(""), "ns.fiche")
        for delivery in range(3):  # the first delivery and two returns (its leases expire: a dead consumer)
            message = get(conn, main)
            assert message.payload == {"n": 1} and message.delivery_info["redelivered"] == (delivery > 0)
            time.sleep(0.06)
        assert get(conn, main) is None, "a fourth delivery is over the limit"
        letter = get(conn, dead)
    assert letter.payload == {"n": 1}
    assert letter.headers["x-first-death-reason"] == "delivery_limit"
    assert letter.headers["x-death"][0]["queue"] == "ns.fiche" and letter.headers["x-delivery-count"] == 3


def test_a_full_bounded_queue_refuses_the_publish_and_keeps_what_it_has(url, db_path):
    bounded = Queue("ns.fiche.dead", durable=True, queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    other = Queue("ns.other", Exchange("fan", type="fanout"), durable=True)
    with connect(url) as conn:
        bounded(conn.default_channel).declare()
        other(conn.default_channel).declare()
        conn.default_channel.queue_bind("ns.fiche.dead", "fan")
        for n in range(2):
            publish(conn, {"n": n}, Exchange(""), "ns.fiche.dead")
        with pytest.raises(PublishRefused, match="reject-publish"):
            publish(conn, {"n": 2}, Exchange(""), "ns.fiche.dead")
        with pytest.raises(PublishRefused):  # refused by the full queue, stored in the other one
            publish(conn, {"n": 3}, Exchange("fan", type="fanout"), "")
        assert [get(conn, bounded).payload for _ in range(2)] == [{"n": 0}, {"n": 1}]
        assert get(conn, other).payload == {"n": 3}


def test_a_mandatory_message_that_reaches_no_queue_is_refused(url):
    with connect(url) as conn:
        with pytest.raises(PublishRefused, match="NO_ROUTE"):
            publish(conn, {"n": 1}, Exchange(""), "no.such.queue", mandatory=True)
        publish(conn, {"n": 1}, Exchange(""), "no.such.queue")  # not mandatory: dropped, as AMQP does


def test_a_batch_is_one_transaction(url, db_path):
    queue = Queue("work", Exchange("work", type="direct"), routing_key="work")
    with connect(url) as conn:
        queue(conn.default_channel).declare()
        channel = conn.default_channel
        with pytest.raises(RuntimeError), channel.batch():
            publish(conn, {"n": 1}, queue.exchange, "work")
            publish(conn, {"n": 2}, queue.exchange, "work")
            raise RuntimeError("half-way")
        assert rows(db_path, "SELECT count(*) FROM messages") == [(0,)]
        with channel.batch():
            for n in range(3):
                publish(conn, {"n": n}, queue.exchange, "work")
        assert rows(db_path, "SELECT count(*) FROM messages") == [(3,)]


def test_heartbeat_check_renews_the_leases_of_held_messages(url):
    queue = Queue("work", Exchange("work", type="direct"), routing_key="work")
    with connect(url, visibility_timeout=0.3) as holder, connect(url) as other:
        queue(holder.default_channel).declare()
        publish(holder, {"n": 1}, queue.exchange, "work")
        held = get(holder, queue)
        for _ in range(4):  # 0.6 s, twice the visibility timeout
            time.sleep(0.15)
            holder.heartbeat_check()
            assert get(other, queue) is None, "a renewed lease keeps the message invisible"
        held.ack()
        time.sleep(0.35)
        assert get(other, queue) is None


def test_a_passive_declaration_leaves_the_queue_arguments_alone(url, db_path):
    bounded = Queue("ns.dead", durable=True, queue_arguments={"x-max-length": 5, "x-overflow": "reject-publish"})
    with connect(url) as conn:
        bounded(conn.default_channel).declare()
        assert Queue("ns.dead")(conn.default_channel).queue_declare(passive=True).message_count == 0
    assert json.loads(rows(db_path, "SELECT arguments FROM queues")[0][0]) == {
        "x-max-length": 5, "x-overflow": "reject-publish"}
