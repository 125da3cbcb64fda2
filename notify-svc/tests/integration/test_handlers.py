"""The mail handler and the senders on a real SQLite database (migrated) and the real sink: one mail per event,
queued with the event, sent outside any transaction, retried, never sent twice."""
import datetime as dt
import email
import json
from email import policy

import pytest
import sqlalchemy as sa

from notify.adapters.orm import mails
from notify.adapters.transport import SinkTransport, TransportError
from notify.bootstrap import bootstrap
from notify.mails.consumers import make_handlers, mail_id_for
from notify.mails.delivery import Sender, mark_failing, purge_log, requeue
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import UnitOfWork, upgrade
from services.events import Event, InvalidEvent
from services.inbox import handle_once
from services.outbox import OUTBOX


class FlakyTransport:
    """The sink, failing its first `failures` sends like an unreachable SMTP server."""

    def __init__(self, sink: SinkTransport, failures: int):
        self.sink, self.failures = sink, failures

    def deliver(self, data, envelope_from, envelope_to, ready=lambda: None):
        if self.failures:
            self.failures -= 1
            raise TransportError("cannot reach smtp.cd28.fr:587: ConnectionRefusedError(111)")
        self.sink.deliver(data, envelope_from, envelope_to, ready)


@pytest.fixture
def container(local_settings):
    upgrade(local_settings.database_url, "notify:migrations")
    container = bootstrap(local_settings)
    yield container
    container.engine.dispose()


def _handler(container):
    return make_handlers(container.sender)[EMAIL_CONFIRMATION_REQUESTED.type]


def _sender(container, transport=None, delays=(0.0, 0.0), **options) -> Sender:
    return Sender(container.session_factory, transport or container.transport, container.sender.addr_spec,
                  list(delays), **options)


def _mails(container):
    with container.session_factory() as session:
        return session.execute(sa.select(mails).order_by(mails.c.created_at)).mappings().all()


def _outbox(container):
    with container.session_factory() as session:
        return [(row.event_type, json.loads(row.payload)["data"])
                for row in session.execute(sa.select(OUTBOX).order_by(OUTBOX.c.position))]


def _set(container, **values):
    with container.session_factory() as session, session.begin():
        session.execute(mails.update().values(**values))


def test_an_event_queues_one_mail_that_a_sender_sends_logs_and_announces(container, confirmation_event):
    event = confirmation_event()

    assert handle_once(container.session_factory, _handler(container), event)
    [row] = _mails(container)
    assert (row["status"], row["attempts"], row["payload"] is not None) == ("queued", 0, True)
    assert list(container.transport.messages()) == [] and _outbox(container) == []  # nothing left yet

    assert _sender(container).drain() == 1

    [caught] = list(container.transport.messages())
    assert caught.to == "marie.dupont@orange.fr"
    assert caught.links == ["https://portail.example/activation/confirmer?jeton=s3cr3t&etape=2"]
    assert caught.message["Message-ID"] == f"<{mail_id_for(event.id)}@assmat.local>" == row["message_id"]
    assert caught.message["Date"].datetime is not None
    [row] = _mails(container)
    assert (row["template"], row["recipient"], row["status"], row["attempts"], row["cause_event_id"]) == \
        ("email_confirmation", "marie.dupont@orange.fr", "sent", 1, event.id)
    assert row["payload"] is None  # the single-use link does not stay in the database
    assert row["subject"] == caught.subject and row["sent_at"] is not None
    assert _outbox(container) == [("mail.delivered", {"mail_id": str(row["id"]), "template": "email_confirmation",
                                                      "cause_event_id": event.id})]
    assert _sender(container).drain() == 0


def test_the_same_event_twice_sends_one_mail(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container)

    assert handle_once(container.session_factory, handler, event)
    assert not handle_once(container.session_factory, handler, Event.from_dict(event.to_dict()))
    _sender(container).drain()

    assert len(list(container.transport.messages())) == 1
    assert len(_mails(container)) == 1 and len(_outbox(container)) == 1


def test_the_unique_cause_guards_even_without_the_inbox(container, confirmation_event):
    event = confirmation_event()
    handler = _handler(container)
    for _ in range(2):
        with UnitOfWork(container.session_factory) as uow:
            handler(uow, event)
            uow.commit()
    _sender(container).drain()

    assert len(list(container.transport.messages())) == 1
    assert len(_mails(container)) == 1 and len(_outbox(container)) == 1


def test_a_temporary_failure_is_retried_after_its_delay(container, confirmation_event):
    handle_once(container.session_factory, _handler(container), confirmation_event())
    sender = _sender(container, FlakyTransport(container.transport, failures=1), delays=(3600, 3600))

    assert sender.run_once() == "queued"
    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("queued", 1) and "ConnectionRefusedError" in row["last_error"]
    assert row["next_attempt_at"].replace(tzinfo=dt.timezone.utc) > dt.datetime.now(dt.timezone.utc) + \
        dt.timedelta(seconds=3500)
    assert sender.run_once() is None  # not due yet: the backoff holds it
    _set(container, next_attempt_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))

    assert sender.run_once() == "sent"
    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert [kind for kind, _ in _outbox(container)] == ["mail.delivered"]
    assert len(list(container.transport.messages())) == 1


def test_after_the_last_retry_the_mail_is_failed_and_mail_failed_recorded_once(container, confirmation_event):
    event = confirmation_event()
    handle_once(container.session_factory, _handler(container), event)
    sender = _sender(container, FlakyTransport(container.transport, failures=10), delays=(0, 0))

    assert [sender.run_once() for _ in range(4)] == ["queued", "queued", "failed", None]

    [row] = _mails(container)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    [(kind, data)] = _outbox(container)
    assert kind == "mail.failed"
    assert data["mail_id"] == str(row["id"]) and data["cause_event_id"] == event.id
    assert "ConnectionRefusedError" in data["error"]
    assert list(container.transport.messages()) == []
    # The dead letter keeps its message: once the server is back, staff send it again, once.
    assert requeue(container.session_factory, row["id"])
    assert _sender(container).drain() == 1 and len(list(container.transport.messages())) == 1
    assert not requeue(container.session_factory, row["id"])  # sent now: nothing to requeue


def test_a_worker_that_died_before_the_final_dot_is_replaced_and_the_mail_sent_once(container,
                                                                                   confirmation_event):
    handle_once(container.session_factory, _handler(container), confirmation_event())
    sender = _sender(container, lease=dt.timedelta(seconds=60))
    claimed = sender.claim()  # then the worker dies: its row stays `sending`, nothing reached the sink
    assert claimed is not None and [row["status"] for row in _mails(container)] == ["sending"]
    assert sender.run_once() is None  # its lease still runs: nobody else touches it

    _set(container, claimed_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    assert sender.run_once() == "sent"
    assert len(list(container.transport.messages())) == 1
    # The dead worker, had it only been slow, cannot send its copy any more: its claim is gone.
    assert sender.deliver(claimed) == "abandoned"
    assert len(list(container.transport.messages())) == 1
    assert [kind for kind, _ in _outbox(container)] == ["mail.delivered"]


def test_a_worker_that_died_after_the_final_dot_leaves_the_mail_unconfirmed_never_sent_twice(container,
                                                                                            confirmation_event):
    handle_once(container.session_factory, _handler(container), confirmation_event())

    class DiesAfterTheDot:
        def deliver(self, data, envelope_from, envelope_to, ready=lambda: None):
            container.transport.deliver(data, envelope_from, envelope_to, ready)
            raise SystemExit("killed before recording the answer")

    with pytest.raises(SystemExit):
        _sender(container, DiesAfterTheDot()).run_once()
    assert [row["status"] for row in _mails(container)] == ["committing"]
    _set(container, claimed_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))

    assert _sender(container).run_once() is None
    [row] = _mails(container)
    assert (row["status"], row["payload"]) == ("unconfirmed", None) and "non renvoyé" in row["last_error"]
    assert len(list(container.transport.messages())) == 1
    assert _outbox(container) == []


def test_an_event_that_would_make_a_wrong_mail_is_refused_before_anything_happens(container, confirmation_event):
    with pytest.raises(InvalidEvent):
        handle_once(container.session_factory, _handler(container), confirmation_event(email="pas-une-adresse"))
    with pytest.raises(InvalidEvent):
        handle_once(container.session_factory, _handler(container),
                    confirmation_event(email="marie@orange.fr\r\nBcc: tous@example.org"))
    assert list(container.transport.messages()) == [] and _mails(container) == [] and _outbox(container) == []


def test_header_injection_in_a_name_stays_inside_its_header(container, confirmation_event):
    event = confirmation_event(display_name="Marie\r\nBcc: victime@example.org\r\nSubject: gagné")
    handle_once(container.session_factory, _handler(container), event)
    _sender(container).drain()

    [caught] = list(container.transport.messages())
    assert caught.message.get_all("Bcc") is None and len(caught.message.get_all("Subject")) == 1
    assert "victime@example.org" in str(caught.message["To"])  # kept as words of the name, on one line
    assert caught.to == "marie.dupont@orange.fr"


def test_a_template_value_missing_is_refused_with_the_reason(container, confirmation_event, monkeypatch):
    from notify.mails.domain import messages
    original = messages.email_confirmation

    def without_expiry(data):
        draft = original(data)
        del draft.context["expires_at"]
        return draft

    monkeypatch.setitem(__import__("notify.mails.consumers").mails.consumers.MAILS,
                        EMAIL_CONFIRMATION_REQUESTED, without_expiry)
    with pytest.raises(InvalidEvent, match="expires_at"):
        handle_once(container.session_factory, _handler(container), confirmation_event())
    assert _mails(container) == []


def test_a_mail_to_a_failing_address_is_failed_at_once_with_its_reason(container, confirmation_event):
    with UnitOfWork(container.session_factory) as uow:
        mark_failing(uow.session, "Marie.Dupont@orange.fr", "550 5.1.1 user unknown", "bounce")
        uow.commit()
    event = confirmation_event()
    handle_once(container.session_factory, _handler(container), event)

    assert _sender(container).drain() == 0
    [row] = _mails(container)
    assert row["status"] == "failed" and "550 5.1.1" in row["last_error"]
    [(kind, data)] = _outbox(container)
    assert kind == "mail.failed" and data["cause_event_id"] == event.id
    assert list(container.transport.messages()) == []


def test_a_paced_domain_gets_its_mails_spaced_others_go_at_once(container, confirmation_event):
    for address in ("a@orange.fr", "b@orange.fr", "c@example.org"):
        handle_once(container.session_factory, _handler(container), confirmation_event(email=address))
    sender = _sender(container, pace={"orange.fr": 60.0})

    assert sender.drain() == 2
    assert sorted(message.to for message in container.transport.messages()) == ["a@orange.fr", "c@example.org"]
    assert sorted(row["status"] for row in _mails(container)) == ["queued", "sent", "sent"]


def test_the_log_is_purged_after_its_retention_but_not_the_mails_waiting(container, confirmation_event):
    for address in ("a@example.org", "b@example.org"):
        handle_once(container.session_factory, _handler(container), confirmation_event(email=address))
    sender = _sender(container)
    sender.run_once()
    _set(container, created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100))

    assert purge_log(container.session_factory, dt.timedelta(days=90)) == 1
    assert [row["status"] for row in _mails(container)] == ["queued"]


def test_a_version_this_code_does_not_know_is_left_alone(container, confirmation_event):
    event = Event.from_dict({**confirmation_event().to_dict(), "version": 2})
    assert handle_once(container.session_factory, _handler(container), event)
    assert list(container.transport.messages()) == [] and _mails(container) == []


def test_the_stored_message_is_a_proper_rfc5322_mail(container, confirmation_event):
    handle_once(container.session_factory, _handler(container), confirmation_event())
    [row] = _mails(container)
    message = email.message_from_bytes(row["payload"], policy=policy.default)
    assert message["Message-ID"] == row["message_id"] and message["Date"].datetime.tzinfo is not None
    assert all(part["Content-Transfer-Encoding"] == "quoted-printable" for part in message.iter_parts())
    assert max(len(line) for line in row["payload"].split(b"\r\n")) <= 998


def test_a_stopping_sender_hands_back_the_mails_it_claimed_but_did_not_start(container, confirmation_event):
    import threading
    for address in ("a@example.org", "b@example.org", "c@example.org"):
        handle_once(container.session_factory, _handler(container), confirmation_event(email=address))
    stop = threading.Event()

    class StopsAfterOne:
        def deliver(self, data, envelope_from, envelope_to, ready=lambda: None):
            container.transport.deliver(data, envelope_from, envelope_to, ready)
            stop.set()  # SIGTERM arrives while the first mail is being sent

    assert _sender(container, StopsAfterOne(), batch=3).run_batch(stop) == 3
    assert sorted(row["status"] for row in _mails(container)) == ["queued", "queued", "sent"]
    assert all(row["claim_token"] is None for row in _mails(container))
    assert _sender(container).drain() == 2 and len(list(container.transport.messages())) == 3
