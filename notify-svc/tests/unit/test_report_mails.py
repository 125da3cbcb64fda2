"""The mails of a report's steps (received, in progress, processed, refused with the PMI's message) and of a map
correction's decision: French, only what she needs, her address from the event or, failing that, whom to look up
in the address book; data that would make a wrong mail is refused."""
import datetime as dt
import uuid
from email import message_from_bytes, policy
from email.headerregistry import Address

import pytest

from notify.mails.domain.messages import compose, correction_decided, report_step
from notify.mails.domain.rendering import render
from services.events import InvalidEvent

REPORT = {"report_id": "r-1", "pmi_number": "28-000123", "circonscription": "chartres-nord", "kind": "moving",
          "status": "received", "message": None, "email": "marie.dupont@orange.fr", "first_name": "Marie",
          "last_name": "Dupont", "at": "2026-03-01T08:05:00+00:00"}
CORRECTION = {"correction_id": "c-1", "place_id": "p-1", "account_id": "acc-1", "commune_insee": "28085",
              "commune_name": "Chartres", "decision": "accepted", "reason": "", "latitude": 48.4,
              "longitude": 1.5, "requested_at": "2026-02-27T10:00:00+00:00", "decided_at": "2026-03-02T15:30:00+00:00"}


def rendered(composer, data):
    draft = composer(data)
    return draft, render(draft.template, draft.context)


@pytest.mark.parametrize(("status", "template", "subject"), [
    ("received", "report_received", "Votre signalement a bien été reçu"),
    ("in_progress", "report_in_progress", "Votre signalement est en cours de traitement"),
    ("processed", "report_processed", "Votre signalement a été traité"),
])
def test_each_step_of_a_report_has_its_mail(status, template, subject):
    draft, mail = rendered(report_step, {**REPORT, "status": status})
    assert (draft.template, draft.recipient, draft.lookup) == (template, "marie.dupont@orange.fr", None)
    assert mail.subject == f"{subject} – portail des assistants maternels"
    assert "Bonjour Marie Dupont," in mail.text and "Bonjour Marie Dupont," in mail.html
    assert "« Déménagement »" in mail.text and "Déménagement" in mail.html
    assert "dimanche 1er mars 2026 à 9 h 05" in mail.text  # Paris time
    # Nothing more than she needs: neither her PMI number nor the circonscription's code.
    assert "28-000123" not in mail.text + mail.html and "chartres-nord" not in mail.text + mail.html


def test_a_refused_report_carries_the_pmis_message_escaped_in_html():
    message = "Merci de joindre le bail <signé> & la date d'emménagement."
    _, mail = rendered(report_step, {**REPORT, "status": "refused", "message": message})
    assert mail.subject.startswith("Votre signalement n'a pas pu être accepté")
    assert message in mail.text
    assert "le bail &lt;signé&gt; &amp; la date" in mail.html and "<signé>" not in mail.html


def test_a_processed_report_shows_the_pmis_message_only_when_there_is_one():
    _, without = rendered(report_step, {**REPORT, "status": "processed", "message": ""})
    _, with_one = rendered(report_step, {**REPORT, "status": "processed", "message": "Visite prévue le 12 mars."})
    assert "Message de votre service de PMI" not in without.text
    assert "Message de votre service de PMI :\n\nVisite prévue le 12 mars." in with_one.text


@pytest.mark.parametrize("email", ["", None, "pas une adresse", "a@b.fr\r\nBcc: x@evil.fr", "a@b.fr, c@d.fr"])
def test_without_a_usable_address_in_the_event_the_mail_looks_up_her_pmi_number(email):
    draft = report_step({**REPORT, "email": email})
    assert (draft.recipient, draft.lookup) == ("", ("pmi_number", "28-000123"))


@pytest.mark.parametrize(("field", "value"), [("status", "archived"), ("kind", "lottery"), ("at", "hier")])
def test_report_data_that_would_make_a_wrong_mail_is_refused(field, value):
    with pytest.raises(InvalidEvent):
        report_step({**REPORT, field: value})


def test_a_refused_report_without_message_and_a_report_without_any_way_to_reach_her_are_refused():
    with pytest.raises(InvalidEvent):
        report_step({**REPORT, "status": "refused", "message": "  "})
    with pytest.raises(InvalidEvent):
        report_step({**REPORT, "email": "", "pmi_number": ""})


def test_an_accepted_correction_is_told_with_the_commune_and_is_addressed_through_her_account():
    draft, mail = rendered(correction_decided, CORRECTION)
    assert (draft.template, draft.recipient, draft.lookup) == ("correction_accepted", "", ("account_id", "acc-1"))
    assert mail.subject.startswith("Votre correction sur la carte a été acceptée")
    assert "(Chartres)" in mail.text and "lundi 2 mars 2026 à 16 h 30" in mail.text
    assert "Précision" not in mail.text  # no reason given on acceptance: no empty quote
    assert "Bonjour," in mail.text


def test_a_refused_correction_gives_the_reason():
    _, mail = rendered(correction_decided, {**CORRECTION, "decision": "refused",
                                            "reason": "Le point indiqué est dans un champ."})
    assert mail.subject.startswith("Votre correction sur la carte n'a pas été retenue")
    assert "Voici la raison :\n\nLe point indiqué est dans un champ." in mail.text
    assert "Le point indiqué est dans un champ." in mail.html


@pytest.mark.parametrize("changes", [{"decision": "maybe"}, {"decision": "refused", "reason": ""},
                                     {"account_id": ""}, {"decided_at": "demain"}])
def test_correction_data_that_would_make_a_wrong_mail_is_refused(changes):
    with pytest.raises(InvalidEvent):
        correction_decided({**CORRECTION, **changes})


def test_a_name_with_line_breaks_cannot_write_headers():
    draft, mail = rendered(report_step, {**REPORT, "first_name": "Marie\r\nBcc: victim@evil.fr",
                                         "last_name": "Dupont\nSubject: x"})
    message = compose(uuid.uuid4(), Address("Portail", "ne-pas-repondre", "assmat.local"), draft, mail,
                      dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc))
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == mail.subject
    assert [address.addr_spec for address in parsed["To"].addresses] == ["marie.dupont@orange.fr"]
    assert "\n" not in draft.recipient_name
