"""The address book (identity's events, applied only if newer) and the mails that need it, through the real handler
on a migrated SQLite database and the sink: report steps and correction decisions reach her once, at the event's
address or the book's; with none known the mail is skipped (no row, no error, no dead letter)."""
import dataclasses
import logging

import pytest
import sqlalchemy as sa

from notify.adapters.orm import address_book, mails
from notify.bootstrap import bootstrap
from notify.mails.consumers import make_handlers
from notify.mails.delivery import Sender
from services.catalogue.agrement import REPORT_RECEIVED, REPORT_STATUS_CHANGED
from services.catalogue.geo import CORRECTION_DECIDED
from services.catalogue.identity import ACCOUNT_ACTIVATED, EMAIL_CHANGED
from services.db import upgrade
from services.events import Event
from services.inbox import handle_once


@pytest.fixture
def container(local_settings):
    upgrade(local_settings.database_url, "notify:migrations")
    container = bootstrap(local_settings)
    yield container
    container.engine.dispose()


def _at(event, moment: str):
    return dataclasses.replace(event, occurred_at=moment)


def activated(account_id="acc-1", pmi_number="28-000123", email="marie.dupont@orange.fr", at="2026-03-01T08:00:00+00:00",
              **extra):
    data = {"account_id": account_id, "role": "assmat", "pmi_number": pmi_number, "method": "password", **extra}
    if email is not None:
        data["email"] = email
    return _at(ACCOUNT_ACTIVATED.build(account_id, data), at)


def email_changed(account_id="acc-1", at="2026-03-02T08:00:00+00:00"):
    return _at(EMAIL_CHANGED.build(account_id, {
        "account_id": account_id, "previous_email": "marie.dupont@orange.fr", "new_email_masked": "m***@free.fr",
        "display_name": "Marie Dupont", "account_type": "assmat", "changed_at": "2026-03-02T08:00:00+00:00"}), at)


def report(spec=REPORT_RECEIVED, email="", status="received", **extra):
    data = {"report_id": "r-1", "pmi_number": "28-000123", "circonscription": "chartres-nord", "kind": "moving",
            "status": status, "message": extra.pop("message", None), "email": email, "first_name": "Marie",
            "last_name": "Dupont", "at": "2026-03-03T08:00:00+00:00", **extra}
    return spec.build("r-1", data)


def correction(decision="refused", account_id="acc-1"):
    return CORRECTION_DECIDED.build("p-1", {
        "correction_id": "c-1", "place_id": "p-1", "account_id": account_id, "commune_insee": "28085",
        "commune_name": "Chartres", "decision": decision, "reason": "Le point est dans un champ.",
        "latitude": 48.4, "longitude": 1.5, "requested_at": "2026-03-01T10:00:00+00:00",
        "decided_at": "2026-03-02T15:30:00+00:00"})


def handle(container, event: Event) -> bool:
    return handle_once(container.session_factory, make_handlers(container.sender)[event.type], event)


def book(container):
    with container.session_factory() as session:
        return {row["account_id"]: (row["pmi_number"], row["email"])
                for row in session.execute(sa.select(address_book)).mappings()}


def sent(container):
    Sender(container.session_factory, container.transport, container.sender.addr_spec, [0.0]).drain()
    return sorted((caught.to, caught.subject) for caught in container.transport.messages())


def test_an_activation_enters_the_book_and_older_events_never_bring_an_old_state_back(container):
    assert handle(container, activated())
    assert book(container) == {"acc-1": ("28-000123", "marie.dupont@orange.fr")}

    handle(container, email_changed(at="2026-03-02T08:00:00+00:00"))
    assert book(container) == {"acc-1": ("28-000123", None)}  # the new address is not in the event: forgotten

    handle(container, activated(at="2026-03-01T09:00:00+00:00"))  # late, older than the change
    assert book(container) == {"acc-1": ("28-000123", None)}

    handle(container, activated(email="marie@free.fr", at="2026-03-05T08:00:00+00:00"))  # newer: applied
    assert book(container) == {"acc-1": ("28-000123", "marie@free.fr")}


def test_an_email_change_seen_first_keeps_its_effect_and_a_late_activation_only_fills_the_pmi_number(container):
    handle(container, email_changed(at="2026-03-02T08:00:00+00:00"))
    handle(container, activated(at="2026-03-01T08:00:00+00:00"))
    assert book(container) == {"acc-1": ("28-000123", None)}


def test_activations_without_the_field_or_with_an_unusable_address_keep_none(container):
    handle(container, activated(account_id="acc-old", pmi_number="28-1", email=None))  # published before `email`
    handle(container, activated(account_id="acc-fc", pmi_number="28-2", email=""))     # FranceConnect
    handle(container, activated(account_id="acc-bad", pmi_number="28-3", email="x@y.fr\r\nBcc: z@evil.fr"))
    assert book(container) == {"acc-old": ("28-1", None), "acc-fc": ("28-2", None), "acc-bad": ("28-3", None)}


def test_the_email_changed_event_still_mails_the_previous_address_and_updates_the_book_in_one_go(container):
    handle(container, activated())
    handle(container, email_changed())
    assert sent(container) == [("marie.dupont@orange.fr",
                                "L'adresse e-mail de votre compte a été changée – portail des assistants maternels")]
    assert book(container)["acc-1"][1] is None


def test_a_report_without_address_reaches_the_books_address_once_even_delivered_twice(container):
    handle(container, activated())
    event = report()
    assert handle(container, event)
    assert not handle(container, Event.from_dict(event.to_dict()))  # redelivered

    assert sent(container) == [("marie.dupont@orange.fr",
                                "Votre signalement a bien été reçu – portail des assistants maternels")]


def test_the_events_own_address_comes_first(container):
    handle(container, activated())
    handle(container, report(spec=REPORT_STATUS_CHANGED, status="refused", email="m.dupont@laposte.net",
                             message="Il manque le bail.", previous_status="in_progress"))
    [(to, subject)] = sent(container)
    assert (to, subject) == ("m.dupont@laposte.net",
                             "Votre signalement n'a pas pu être accepté – portail des assistants maternels")
    [caught] = list(container.transport.messages())
    assert "Il manque le bail." in caught.text


@pytest.mark.parametrize(("status", "subject"), [
    ("in_progress", "Votre signalement est en cours de traitement"),
    ("processed", "Votre signalement a été traité"),
])
def test_each_status_change_is_mailed_through_the_book(container, status, subject):
    handle(container, activated())
    handle(container, report(spec=REPORT_STATUS_CHANGED, status=status, previous_status="received"))
    assert sent(container) == [("marie.dupont@orange.fr", f"{subject} – portail des assistants maternels")]


@pytest.mark.parametrize(("decision", "subject"), [
    ("accepted", "Votre correction sur la carte a été acceptée"),
    ("refused", "Votre correction sur la carte n'a pas été retenue"),
])
def test_a_correction_decision_reaches_the_account_once(container, decision, subject):
    handle(container, activated())
    event = correction(decision)
    handle(container, event)
    handle(container, Event.from_dict(event.to_dict()))
    assert sent(container) == [("marie.dupont@orange.fr", f"{subject} – portail des assistants maternels")]


def test_with_no_address_known_the_mail_is_skipped_and_logged_never_an_error(container, caplog):
    handle(container, activated(account_id="acc-fc", pmi_number="28-000999", email=""))
    with caplog.at_level(logging.WARNING, logger="notify.mails.consumers"):
        assert handle(container, correction(account_id="acc-fc"))          # handled: no retry, no dead letter
        assert handle(container, correction(account_id="acc-unknown"))
        assert handle(container, report(pmi_number="28-000999"))
        assert handle(container, report(pmi_number="28-404"))
    skipped = [record for record in caplog.records if record.getMessage() == "mail skipped: no address known"]
    assert len(skipped) == 4 and all("no address" in record.reason for record in skipped)
    with container.session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(mails)).scalar() == 0
    assert sent(container) == []


def test_a_report_skipped_for_want_of_an_address_is_not_mailed_later_when_one_arrives(container):
    handle(container, report())          # nobody known yet: skipped, and the event is done with
    handle(container, activated())
    assert sent(container) == []
