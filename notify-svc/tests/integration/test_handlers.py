"""The mail handler on a real SQLite database (migrated) and the real sink: once per event, retried, never lost."""
import json

import pytest
import sqlalchemy as sa

from notify.adapters.orm import mails
from notify.adapters.transport import SinkTransport, TransportError
from notify.bootstrap import bootstrap
from notify.mails.consumers import make_handlers
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import UnitOfWork, upgrade
from services.events import Event, InvalidEvent
from services.inbox import handle_once
from services.outbox import OUTBOX


class FlakyTransport:
    """The sink, failing its first `failures` sends like an unreachable SMTP server."""

    def __init__(self, sink: SinkTransport, failures: int):
        self.sink, self.failures = sink, failures

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise TransportError("cannot reach smtp.cd28.fr:587: ConnectionRefusedError(111)")
        self.sink.send(message)


@pytest.fixture
def container(local_settings):
    upgrade(local_settings.database_url, "notify:migrations")
    container = bootstrap(local_settings)
    yield container
    container.engine.dispose()


def _handler(container, transport=None):
    handlers = make_handlers(transport or container.transport, container.sender, max_attempts=3)
    return handlers[EMAIL_CONFIRMATION_REQUESTED.type]


def _mails(container):
    with container.session_factory() as session:
        return session.execute(sa.select(mails)).mappings().all()


def _outbox(container):
    with container.session_factory() as session:
        return [(row.event_type, json.loads(row.payload)["data"])
                for row in session.execute(sa.select(OUTBOX).order_by(OUTBOX.c.position))]


def test_an_event_sends_one_mail_logs_it_and_announces_it(container, confirmation_event):
    event = confirmation_event()

    assert handle_once(container.session_factory, _handler(container), event)

    [caught] = list(container.transport.messages())
    assert caught.to == "marie.dupont@orange.fr"
    assert caught.links == ["https://portail.example/activation/confirmer?jeton=s3cr3t&etape=2"]
    [row] = _mails(container)
    assert (row["template"], row["recipient"], row["status"], row["attempts"], row["cause_event_id"]) == \
        ("email_confirmation", "marie.dupont@orange.fr", "sent", 1, event.id)
    assert row["subject"] == caught.subject and row["sent_at"] is not None
    assert _outbox(container) == [("mail.delivered", {"mail_id": str(row["id"]), "template": "email_confirmation",
                                                      "cause_event_id": event.id})]


def test_the_same_event_twice_sends_one_mail(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container)

    assert handle_once(container.session_factory, handler, event)
    assert not handle_once(container.session_factory, handler, Event.from_dict(event.to_dict()))

    assert len(list(container.transport.messages())) == 1
    assert len(_mails(container)) == 1 and len(_outbox(container)) == 1


def test_the_unique_cause_guards_even_without_the_inbox(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container)
    for _ in range(2):
        with UnitOfWork(container.session_factory) as uow:
            handler(uow, event)
            uow.commit()

    assert len(list(container.transport.messages())) == 1
    assert len(_mails(container)) == 1 and len(_outbox(container)) == 1


def test_a_transport_failure_raises_so_the_bus_retries_and_is_remembered(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container, FlakyTransport(container.transport, failures=1))

    with pytest.raises(TransportError):
        handle_once(container.session_factory, handler, event)

    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("queued", 1) and "ConnectionRefusedError" in row["last_error"]
    assert _outbox(container) == []
    # The inbox did not keep the event: the bus's next delivery is handled, and sends.
    assert handle_once(container.session_factory, handler, event)
    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [kind for kind, _ in _outbox(container)] == ["mail.delivered"]
    assert len(list(container.transport.messages())) == 1


def test_the_last_failed_delivery_records_mail_failed(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container, FlakyTransport(container.transport, failures=3))

    for _ in range(3):  # max_attempts=3: the bus dead-letters after the third failure
        with pytest.raises(TransportError):
            handle_once(container.session_factory, handler, event)

    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    [(kind, data)] = _outbox(container)
    assert kind == "mail.failed"
    assert data["mail_id"] == str(row["id"]) and data["cause_event_id"] == event.id
    assert "ConnectionRefusedError" in data["error"]
    assert list(container.transport.messages()) == []


def test_a_mail_sent_but_not_committed_is_sent_again_never_lost(container, confirmation_event, monkeypatch):
    event = confirmation_event()
    handler = _handler(container)
    commit = UnitOfWork.commit
    broken = iter([True])

    def commit_failing_once(uow):
        if next(broken, False):
            raise sa.exc.OperationalError("COMMIT", {}, Exception("database went away"))
        commit(uow)

    monkeypatch.setattr(UnitOfWork, "commit", commit_failing_once)
    with pytest.raises(sa.exc.OperationalError):
        handle_once(container.session_factory, handler, event)
    assert len(list(container.transport.messages())) == 1 and _mails(container) == []

    assert handle_once(container.session_factory, handler, event)  # the bus's redelivery
    assert len(list(container.transport.messages())) == 2  # a duplicate, the accepted price
    assert [row["status"] for row in _mails(container)] == ["sent"]


def test_an_event_that_would_make_a_wrong_mail_is_refused_before_anything_happens(container, confirmation_event):
    with pytest.raises(InvalidEvent):
        handle_once(container.session_factory, _handler(container), confirmation_event(email="pas-une-adresse"))
    assert list(container.transport.messages()) == [] and _mails(container) == [] and _outbox(container) == []


def test_a_version_this_code_does_not_know_is_left_alone(container, confirmation_event):
    event = Event.from_dict({**confirmation_event().to_dict(), "version": 2})
    assert handle_once(container.session_factory, _handler(container), event)
    assert list(container.transport.messages()) == [] and _mails(container) == []
