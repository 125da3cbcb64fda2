"""Activation end to end on the real servers: migrations on PostgreSQL, the agrément event in and the mails'
events out through RabbitMQ."""
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from identity import create_app
from identity.adapters.orm import metadata
from identity.holders.consumers import HANDLERS
from identity.service import MANIFEST
from identity.settings import Settings
from services.bus import Bus, ServiceConsumer
from services.catalogue.identity import ACCOUNT_ACTIVATED, EMAIL_CONFIRMATION_REQUESTED
from services.db import upgrade
from services.outbox import OutboxRelay
from services.inbox import handle_batch

IDENTITY_EVENTS = [EMAIL_CONFIRMATION_REQUESTED.type, ACCOUNT_ACTIVATED.type]
RETRY_DELAYS_MS = [200]


def drain_until(consumer: ServiceConsumer, done, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        consumer.drain_for(0.5)
    assert done(), "the expected messages did not arrive"


@pytest.fixture
def bus(real_servers):
    bus = Bus(real_servers.broker_url, real_servers.namespace)
    bus.declare("identity", HANDLERS, RETRY_DELAYS_MS)
    bus.declare("notify", IDENTITY_EVENTS, RETRY_DELAYS_MS)
    yield bus
    bus.close()
    with bus.connection() as connection:
        for service in ("identity", "notify"):
            for queue in (bus.service_queue(service, []), bus.retry_queue(service, RETRY_DELAYS_MS[0]),
                          bus.dead_letter_queue(service)):
                queue(connection.default_channel).delete()


def test_activation_on_postgresql_and_rabbitmq(real_servers, bus, make_agrement_event):
    url = real_servers.database("identity")
    upgrade(url, "identity:migrations")
    settings = Settings(environment="test", database_url=url, broker_url=real_servers.broker_url,
                        bus_namespace=real_servers.namespace, public_base_url="https://assmat.example.fr")
    app = create_app(settings)
    container = app.extensions["identity"]
    with container.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata) == []

    # agrement-svc's event arrives twice (at-least-once delivery): the inbox handles it once.
    agrement = make_agrement_event("123456")
    bus.publish(agrement)
    bus.publish(agrement)
    subscriptions = MANIFEST.subscriptions(container)
    identity_consumer = ServiceConsumer(
        bus, "identity", HANDLERS,
        lambda events: handle_batch(container.session_factory, subscriptions, events, retention=None),
        RETRY_DELAYS_MS)
    drain_until(identity_consumer, lambda: identity_consumer.handled == 2)

    client = app.test_client()
    challenge = client.post("/api/captcha").json["id"]  # step 1 always asks it; the test-only hook answers it
    captcha = {"captcha_id": challenge, "captcha_answer": client.get(f"/api/captcha/{challenge}/answer").json["answer"]}
    check = client.post("/api/activation/check", json={"pmi_number": "123456", "birth_date": "1980-05-17", **captcha})
    assert check.status_code == 200, check.json
    complete = client.post("/api/activation/complete", json={
        "ticket": check.json["ticket"], "email": "Marie.Dupont@orange.fr", "password": "correct horse battery"})
    assert complete.status_code == 201, complete.json

    relay = OutboxRelay(container.session_factory, bus)
    mails: list = []
    notify_consumer = ServiceConsumer(bus, "notify", IDENTITY_EVENTS, mails.extend, RETRY_DELAYS_MS)
    assert relay.run_once() == 1
    drain_until(notify_consumer, lambda: len(mails) == 1)
    assert mails[0].type == EMAIL_CONFIRMATION_REQUESTED.type
    assert mails[0].data["email"] == "marie.dupont@orange.fr"
    token = mails[0].data["confirmation_url"].split("jeton=", 1)[1]

    confirm = client.post("/api/activation/confirm", json={"token": token})
    assert confirm.status_code == 200, confirm.json
    assert relay.run_once() == 1
    drain_until(notify_consumer, lambda: len(mails) == 2)
    assert (mails[1].type, mails[1].data["pmi_number"], mails[1].data["method"]) == (
        ACCOUNT_ACTIVATED.type, "123456", "password")

    login = client.post("/api/sessions", json={"pmi_number": "123456", "password": "correct horse battery"})
    assert login.status_code == 200, login.json
    me = client.get("/api/me", headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.json["email"] == "marie.dupont@orange.fr"
    container.engine.dispose()
