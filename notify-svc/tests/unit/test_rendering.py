import datetime as dt

import jinja2
import pytest

from notify.mails.domain.messages import email_confirmation
from notify.mails.domain.rendering import french_datetime, render


@pytest.mark.parametrize("moment, expected", [
    # Winter: Paris is UTC+1.
    (dt.datetime(2025, 11, 27, 14, 30, tzinfo=dt.timezone.utc), "jeudi 27 novembre 2025 à 15 h 30"),
    # Summer: UTC+2, and the first of the month is written « 1er ».
    (dt.datetime(2025, 7, 1, 7, 5, tzinfo=dt.timezone.utc), "mardi 1er juillet 2025 à 9 h 05"),
    # A naive moment is UTC; crossing midnight in Paris changes the day.
    (dt.datetime(2025, 12, 31, 23, 15), "jeudi 1er janvier 2026 à 0 h 15"),
])
def test_french_datetime_in_paris_time(moment, expected):
    assert french_datetime(moment) == expected


def test_confirmation_mail_says_who_what_link_and_expiry(confirmation_data):
    rendered = render("email_confirmation", email_confirmation(confirmation_data()).context)

    assert rendered.subject == "Confirmez votre adresse e-mail – espace professionnel"
    assert rendered.text.startswith("Bonjour Marie Dupont,\n")
    assert "\nhttps://portail.example/activation/confirmer?jeton=s3cr3t&etape=2\n" in rendered.text
    assert "expire le jeudi 27 novembre 2025 à 15 h 30 (heure de Paris)" in rendered.text
    assert "Spam" in rendered.text and "service de PMI peut terminer l'inscription" in rendered.text
    assert "Vous n'avez rien demandé" in rendered.text
    assert 'href="https://portail.example/activation/confirmer?jeton=s3cr3t&amp;etape=2"' in rendered.html
    assert "jeudi 27 novembre 2025 à 15 h 30" in rendered.html
    assert '<html lang="fr">' in rendered.html


def test_confirmation_mail_carries_nothing_but_what_the_person_needs(confirmation_data):
    data = confirmation_data(account_id="acc-7f3e91")
    rendered = render("email_confirmation", email_confirmation(data).context)
    assert "acc-7f3e91" not in rendered.text + rendered.html + rendered.subject


def test_greeting_without_a_name(confirmation_data):
    rendered = render("email_confirmation", email_confirmation(confirmation_data(display_name="")).context)
    assert rendered.text.startswith("Bonjour,\n")


def test_names_are_escaped_in_the_html_part(confirmation_data):
    rendered = render("email_confirmation",
                      email_confirmation(confirmation_data(display_name='<img src=x onerror="alert(1)">')).context)
    assert "<img src=x" not in rendered.html
    assert "&lt;img src=x" in rendered.html


def test_a_missing_variable_fails_instead_of_leaving_a_blank(confirmation_data):
    context = email_confirmation(confirmation_data()).context
    del context["confirmation_url"]
    with pytest.raises(jinja2.UndefinedError):
        render("email_confirmation", context)
