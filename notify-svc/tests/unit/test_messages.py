import datetime as dt
import uuid

import pytest

from notify.mails.domain.messages import checked_sender, compose, email_confirmation
from notify.mails.domain.rendering import render
from services.events import InvalidEvent

SENDER = "Portail assmat – PMI <ne-pas-repondre@assmat.local>"


def _message(data):
    draft = email_confirmation(data)
    mail_id = uuid.UUID("6f1c1d0e-3a59-4d8e-9a57-1c2b3d4e5f60")
    return compose(mail_id, checked_sender(SENDER), draft, render(draft.template, draft.context),
                   dt.datetime(2025, 11, 26, 9, 0, tzinfo=dt.timezone.utc))


def test_message_is_french_text_with_an_html_alternative(confirmation_data):
    message = _message(confirmation_data())

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert str(message["From"]) == SENDER
    assert message["To"].addresses[0].addr_spec == "marie.dupont@orange.fr"
    assert str(message["Subject"]) == "Confirmez votre adresse e-mail – espace professionnel"
    assert message["Message-ID"] == "<6f1c1d0e-3a59-4d8e-9a57-1c2b3d4e5f60@assmat.local>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "fr"
    assert "jeton=s3cr3t&etape=2" in message.get_body(("plain",)).get_content()


def test_a_name_cannot_break_out_of_its_line(confirmation_data):
    draft = email_confirmation(confirmation_data(display_name="Marie\r\nBcc: x@evil.example\n  Dupont"))
    assert draft.recipient_name == "Marie Bcc: x@evil.example Dupont"
    assert "Bcc" not in _message(confirmation_data(display_name="Marie\r\nBcc: x@evil.example")).keys()


@pytest.mark.parametrize("field, value", [
    ("email", "pas-une-adresse"), ("email", "marie@localhost"), ("email", "ma rie@orange.fr"), ("email", ""),
    ("email", "marie@@orange.fr"),
    ("confirmation_url", "javascript:alert(1)"), ("confirmation_url", "/activation/confirmer"),
    ("confirmation_url", "https://portail.example/a b"),
    ("expires_at", "demain"), ("expires_at", None),
])
def test_data_that_would_make_a_wrong_mail_is_refused(confirmation_data, field, value):
    with pytest.raises(InvalidEvent):
        email_confirmation(confirmation_data(**{field: value}))


def test_expiry_without_offset_is_utc(confirmation_data):
    draft = email_confirmation(confirmation_data(expires_at="2025-11-27T14:30:00"))
    assert "jeudi 27 novembre 2025 à 15 h 30" in render(draft.template, draft.context).text


@pytest.mark.parametrize("value", ["", "ne-pas-repondre", "a@x.fr, b@x.fr", "Portail <@x.fr>"])
def test_sender_must_be_one_full_address(value):
    with pytest.raises(ValueError):
        checked_sender(value)


def test_sender_keeps_its_display_name():
    address = checked_sender(SENDER)
    assert (address.display_name, address.addr_spec) == ("Portail assmat – PMI", "ne-pas-repondre@assmat.local")
