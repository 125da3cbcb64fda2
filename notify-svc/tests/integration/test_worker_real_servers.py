"""Workers on real PostgreSQL and RabbitMQ: events published on the bus become one mail each, announced; a mail
that cannot go out is retried with backoff, then failed (the dead letter) and announced once."""
import json
import threading
import time

import pytest
import sqlalchemy as sa

from notify.adapters.orm import mails, metadata
from notify.bootstrap import bootstrap
from notify.settings import load_settings
from notify.service import MANIFEST
from services.bus import Bus
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import make_engine
from services.outbox import OUTBOX
from services.testing import eventually
from services.worker import run_worker


@pytest.fixture
def start_workers(real_servers):
    """`start_workers(mail_url, count)` runs `count` notify workers on one queue, as when the service is scaled."""
    started = []

    def start(mail_url: str, count: int):
        database_url = real_servers.database(f"notify_{len(started)}")
        # services.db.upgrade() cannot run on PostgreSQL yet (make_engine adds pool_size to its NullPool engine):
        # the tables come from the metadata, which test_migrations checks against the migration.
        engine = make_engine(database_url)
        metadata.create_all(engine)
        engine.dispose()
        settings = load_settings({"ASSMAT_ENV": "test", "NOTIFY_DATABASE_URL": database_url,
                                  "BROKER_URL": real_servers.broker_url, "BUS_NAMESPACE": real_servers.namespace,
                                  "NOTIFY_MAIL_URL": mail_url, "OUTBOX_POLL_SECONDS": "0.05",
                                  "CONSUMER_RETRY_DELAYS_MS": "100,200", "NOTIFY_POLL_SECONDS": "0.05",
                                  "NOTIFY_SEND_RETRY_DELAYS_SECONDS": "0.1,0.2"})
        container = bootstrap(settings)
        bus = Bus(settings.broker_url, settings.bus_namespace)
        # Declared before anything is published: a topic exchange drops what no queue is bound to yet.
        bus.declare("notify", container.handlers().keys(), settings.retry_delays_ms)
        stop = threading.Event()
        threads = [threading.Thread(target=run_worker, args=(MANIFEST, settings, stop), daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        started.append((settings, container, bus, stop, threads))
        return container, bus

    yield start
    for settings, container, bus, stop, threads in started:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        assert not any(thread.is_alive() for thread in threads)
        queue = bus.queue_name("notify")
        with bus.connection() as connection:
            for name in [queue, f"{queue}.dead", *(bus.retry_queue_name("notify", delay)
                                                    for delay in settings.retry_delays_ms)]:
                connection.default_channel.queue_delete(name)
        bus.close()
        container.engine.dispose()


def _outbox(container, event_type):
    with container.session_factory() as session:
        return [json.loads(payload)["data"] for payload in session.execute(
            sa.select(OUTBOX.c.payload).where(OUTBOX.c.event_type == event_type)
            .where(OUTBOX.c.sent_at.is_not(None))).scalars()]


def _mail_rows(container):
    with container.session_factory() as session:
        return session.execute(sa.select(mails.c.cause_event_id, mails.c.status, mails.c.attempts)).all()


def test_published_events_are_mailed_once_each_and_announced(start_workers, confirmation_data, tmp_path):
    container, bus = start_workers(f"sink://{tmp_path / 'mail'}", count=2)
    events = [EMAIL_CONFIRMATION_REQUESTED.build(data["account_id"], data)
              for data in (confirmation_data(email=f"assmat{number}@example.fr") for number in range(6))]
    for event in events:
        bus.publish(event)
    bus.publish(events[0])  # a redelivery of the first: must not become a second mail

    eventually(lambda: len(_outbox(container, "mail.delivered")) == len(events))
    time.sleep(1)  # room for a duplicate to show up, if the workers made one
    caught = sorted(message.to for message in container.transport.messages())
    assert caught == sorted(f"assmat{number}@example.fr" for number in range(6))
    assert sorted(_mail_rows(container)) == sorted((event.id, "sent", 1) for event in events)
    assert sorted(data["cause_event_id"] for data in _outbox(container, "mail.delivered")) == \
        sorted(event.id for event in events)


def test_a_mail_that_cannot_go_out_is_retried_then_failed_and_announced_once(start_workers, confirmation_event,
                                                                             tmp_path):
    (tmp_path / "not-a-directory").write_text("")
    container, bus = start_workers(f"sink://{tmp_path / 'not-a-directory' / 'mail'}", count=1)
    event = confirmation_event()

    bus.publish(event)

    eventually(lambda: len(_outbox(container, "mail.failed")) == 1)
    assert _mail_rows(container) == [(event.id, "failed", 3)]  # the first attempt and one per retry delay
    [failed] = _outbox(container, "mail.failed")
    assert failed["cause_event_id"] == event.id and "cannot write to the mail sink" in failed["error"]
    time.sleep(1)
    assert len(_outbox(container, "mail.failed")) == 1  # exactly one, whatever the bus did with the event


def test_the_address_book_on_postgresql_feeds_report_and_correction_mails_once_each(start_workers, tmp_path):
    from notify.adapters.orm import address_book
    from services.catalogue.agrement import REPORT_RECEIVED
    from services.catalogue.geo import CORRECTION_DECIDED
    from services.catalogue.identity import ACCOUNT_ACTIVATED

    container, bus = start_workers(f"sink://{tmp_path / 'mail'}", count=2)
    bus.publish(ACCOUNT_ACTIVATED.build("acc-pg", {"account_id": "acc-pg", "role": "assmat",
                                                   "pmi_number": "28-777", "method": "password",
                                                   "email": "claire.martin@wanadoo.fr"}))

    def known():
        with container.session_factory() as session:
            return session.execute(sa.select(address_book.c.email)
                                   .where(address_book.c.pmi_number == "28-777")).scalar()
    eventually(lambda: known() == "claire.martin@wanadoo.fr")
    received = REPORT_RECEIVED.build("r-pg", {
        "report_id": "r-pg", "pmi_number": "28-777", "circonscription": "dreux", "kind": "housing",
        "status": "received", "message": None, "email": "", "first_name": "Claire", "last_name": "Martin",
        "at": "2026-03-03T08:00:00+00:00"})
    decided = CORRECTION_DECIDED.build("p-pg", {
        "correction_id": "c-pg", "place_id": "p-pg", "account_id": "acc-pg", "commune_insee": "28134",
        "commune_name": "Dreux", "decision": "accepted", "reason": "", "latitude": 48.7, "longitude": 1.4,
        "requested_at": "2026-03-01T10:00:00+00:00", "decided_at": "2026-03-02T15:30:00+00:00"})
    for event in (received, decided, received, decided):  # each one twice: one mail each
        bus.publish(event)

    eventually(lambda: len(_outbox(container, "mail.delivered")) == 2)
    time.sleep(1)
    caught = sorted((message.to, message.subject) for message in container.transport.messages())
    assert caught == [
        ("claire.martin@wanadoo.fr", "Votre correction sur la carte a été acceptée – portail "
                                     "des assistants maternels"),
        ("claire.martin@wanadoo.fr", "Votre signalement a bien été reçu – portail des assistants maternels")]
    assert sorted(_mail_rows(container)) == sorted((event.id, "sent", 1) for event in (received, decided))
