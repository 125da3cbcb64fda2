"""The account mails: the reset link (first password or new one), "votre mot de passe a été changé", the e-mail
change told to the previous address. French, the link or nothing, never a password."""
import pytest

from notify.mails.domain.messages import email_changed, password_changed, password_reset
from notify.mails.domain.rendering import render
from services.events import InvalidEvent

RESET = {"account_id": "a-1", "email": "mam28-01@example.org", "display_name": "MAM Les Lucioles",
         "account_type": "mam", "reset_url": "https://assmat.example.fr/espace-pro/mot-de-passe-oublie/nouveau?jeton=abc",
         "expires_at": "2026-12-01T10:00:00+00:00", "first_password": True}


def rendered(composer, data):
    draft = composer(data)
    return draft, render(draft.template, draft.context)


def test_a_structures_first_password_mail_says_so_and_carries_the_link():
    draft, mail = rendered(password_reset, RESET)
    assert draft.recipient == "mam28-01@example.org"
    assert mail.subject.startswith("Choisissez le mot de passe de votre compte")
    assert RESET["reset_url"] in mail.text and RESET["reset_url"] in mail.html
    assert "Un compte MAM a été ouvert pour vous" in mail.text
    assert "mardi 1er décembre 2026 à 11 h 00" in mail.text  # Paris time


def test_a_reset_mail_for_an_existing_password_says_nothing_changes_until_used():
    _, mail = rendered(password_reset, {**RESET, "first_password": False, "account_type": "assmat"})
    assert mail.subject.startswith("Choisir un nouveau mot de passe")
    assert "demande de nouveau mot de passe" in mail.text and "reste valable" in mail.text


@pytest.mark.parametrize(("field", "value"), [("reset_url", "javascript:alert(1)"), ("email", "a@b, c@d.fr"),
                                              ("expires_at", "demain")])
def test_data_that_would_make_a_wrong_mail_is_refused(field, value):
    with pytest.raises(InvalidEvent):
        password_reset({**RESET, field: value})


def test_password_changed_tells_when_and_what_to_do():
    draft, mail = rendered(password_changed, {"account_id": "a-1", "email": "marie@orange.fr",
                                              "display_name": "Marie Dupont", "account_type": "assmat",
                                              "changed_at": "2026-12-01T10:00:00+00:00"})
    assert mail.subject.startswith("Votre mot de passe a été changé")
    assert "Ce n'est pas vous" in mail.text and "sessions" in mail.text
    assert "http" not in mail.text and draft.recipient == "marie@orange.fr"  # a notice, no link to follow


def test_email_changed_goes_to_the_previous_address_with_the_new_one_masked():
    draft, mail = rendered(email_changed, {"account_id": "a-1", "previous_email": "old@mam.fr",
                                           "new_email_masked": "no•••@mam.fr", "display_name": "MAM X",
                                           "account_type": "mam", "changed_at": "2026-12-01T10:00:00+00:00"})
    assert draft.recipient == "old@mam.fr"
    assert "no•••@mam.fr" in mail.text and "new@" not in mail.text
