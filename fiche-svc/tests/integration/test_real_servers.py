"""The worker on real PostgreSQL and RabbitMQ: agrément and place events in, a fiche found through the API, and
fiche.published out through the outbox relay."""
import threading

import pytest
from kombu import Queue


from fiche import create_app
from fiche.service import MANIFEST
from services.worker import run_worker
from fiche.projection.consumers import HANDLERS
from fiche.settings import Settings
from services.bus import Bus
from services.db import upgrade
from services.events import Event
from services.testing import eventually


@pytest.fixture
def settings(real_servers):
    url = real_servers.database("fiche")
    upgrade(url, "fiche:migrations")
    return Settings(environment="test", database_url=url, broker_url=real_servers.broker_url,
                    bus_namespace=real_servers.namespace, outbox_poll_seconds=0.1, lapse_sweep_seconds=0)


@pytest.fixture
def bus(settings):
    bus = Bus(settings.broker_url, settings.bus_namespace)
    # Declared before anything is published: a topic exchange drops what no queue is bound to yet.
    bus.declare("fiche", HANDLERS, settings.retry_delays_ms)
    bus.declare("fiche-test-observer", ["fiche.published"], [])
    yield bus
    with bus.connection() as connection:
        channel = connection.default_channel
        names = [bus.queue_name("fiche"), bus.dead_letter_queue("fiche").name, bus.queue_name("fiche-test-observer"),
                 bus.dead_letter_queue("fiche-test-observer").name]
        names += [bus.retry_queue_name("fiche", delay) for delay in settings.retry_delays_ms]
        for name in names:
            Queue(name)(channel).delete()
    bus.close()


@pytest.fixture
def running_worker(settings, bus):
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(MANIFEST, settings, stop), name="fiche-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=20)
    assert not thread.is_alive()


def test_granted_and_located_fiche_is_found_and_announced(settings, bus, running_worker, make):
    bus.publish(make.agrement(pmi_number="654321", last_name="Héloïse-Dupré", at=0))
    bus.publish(make.place(place_id="654321", at=1))
    client = create_app(settings).test_client()

    def located():
        body = client.get("/api/fiches?q=Chartres").get_json()
        return body["fiches"] and body["fiches"][0]["location"] and body

    body = eventually(located)
    [fiche] = body["fiches"]
    assert body["commune"] == {"insee": "28085", "name": "Chartres"}
    assert fiche["last_name"] == "Héloïse-Dupré" and fiche["location"]["precision"] == "municipality"
    assert client.get(f"/api/fiches/{fiche['id']}").get_json()["id"] == fiche["id"]
    # The name-prefix range (a "C"-collated column, an upper bound of U+10FFFF) as PostgreSQL runs it:
    assert client.get("/api/communes-with-fiches?q=chart").get_json()["communes"] == [
        {"insee": "28085", "name": "Chartres", "postcodes": ["28000"], "fiches": 1}]

    with bus.connection() as connection:
        queue = Queue(bus.queue_name("fiche-test-observer"))(connection.default_channel)
        message = eventually(lambda: queue.get(no_ack=True))
    announced = Event.from_dict(message.decode())
    assert announced.type == "fiche.published" and announced.data["fiche_id"] == fiche["id"]
