from pathlib import Path

import pytest

from notify.adapters.transport import SinkTransport, SmtpTransport, extract_links, transport_from_url
from notify.settings import load_settings
from services.settings import SettingsError


def test_smtp_url_with_credentials_port_and_starttls():
    transport = transport_from_url("smtp://relais%40cd28.fr:p%C3%A0ss%2Fw%3Ad@smtp.cd28.fr:587?starttls=1", 12.5)
    assert transport == SmtpTransport("smtp.cd28.fr", 587, "relais@cd28.fr", "pàss/w:d", True, 12.5)
    assert "pàss" not in repr(transport)


def test_smtp_url_defaults_to_port_25_in_clear_without_login():
    assert transport_from_url("smtp://mail.internal") == SmtpTransport("mail.internal", 25, None, None, False)


def test_a_local_relay_may_take_credentials_without_tls():
    assert transport_from_url("smtp://u:p@127.0.0.1:2525").username == "u"


def test_sink_url_is_an_absolute_directory():
    assert transport_from_url("sink:///var/lib/assmat/mail") == SinkTransport(Path("/var/lib/assmat/mail"))


@pytest.mark.parametrize("url, complaint", [
    ("", "empty"),
    ("smtps://mail.internal:465?starttls=1", "TLS from the start"),
    ("imap://mail.internal", "unsupported scheme"),
    ("http://mail.internal", "unsupported scheme"),
    ("smtp://", "expected smtp://"),
    ("smtp://mail.internal/path", "expected smtp://"),
    ("smtp://mail.internal:99999", "port"),
    ("smtp://mail.internal:abc", "port"),
    ("smtp://mail.internal?tls=1", "unknown option(s) tls"),
    ("smtp://mail.internal?starttls=maybe", "starttls must be 1 or 0"),
    ("smtp://user:secret@smtp.cd28.fr:587", "in clear"),
    ("sink://relative/dir", "sink:///absolute/directory"),
    ("sink:relative", "sink:///absolute/directory"),
])
def test_bad_mail_urls_stop_with_a_message_naming_the_variable(url, complaint):
    with pytest.raises(SettingsError) as caught:
        transport_from_url(url)
    assert "NOTIFY_MAIL_URL" in str(caught.value) and complaint in str(caught.value)


def test_outside_local_runs_a_missing_mail_url_stops_start_up():
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASSMAT_ENV": "production", "NOTIFY_DATABASE_URL": "postgresql://db/notify",
                       "BROKER_URL": "amqp://mq//"})
    assert "NOTIFY_MAIL_URL" in str(caught.value)


def test_the_sink_is_refused_outside_local_runs():
    with pytest.raises(SettingsError, match="local runs and tests only"):
        load_settings({"ASSMAT_ENV": "production", "NOTIFY_DATABASE_URL": "postgresql://db/notify",
                       "BROKER_URL": "amqp://mq//", "NOTIFY_MAIL_URL": "sink:///tmp/mail"})


def test_a_bad_sender_stops_start_up(local_environ):
    with pytest.raises(SettingsError, match="NOTIFY_MAIL_FROM"):
        load_settings({**local_environ, "NOTIFY_MAIL_FROM": "ne-pas-repondre"})


def test_production_settings_with_smtp():
    settings = load_settings({"ASSMAT_ENV": "production", "NOTIFY_DATABASE_URL": "postgresql://db/notify",
                              "BROKER_URL": "amqp://mq//", "NOTIFY_MAIL_URL": "smtp://smtp.cd28.fr:587?starttls=1",
                              "NOTIFY_MAIL_FROM": "PMI d'Eure-et-Loir <pmi@eurelien.fr>"})
    assert (settings.is_local, settings.mail_from) == (False, "PMI d'Eure-et-Loir <pmi@eurelien.fr>")


def test_links_leave_the_closing_punctuation_of_the_sentence():
    text = "Ouvrez https://a.example/c?j=1&e=2. Ou (https://b.example/x), sinon «https://c.example»"
    assert extract_links(text) == ["https://a.example/c?j=1&e=2", "https://b.example/x", "https://c.example"]
