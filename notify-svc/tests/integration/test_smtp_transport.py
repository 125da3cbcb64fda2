"""The smtp:// transport against a real SMTP server (aiosmtpd) on 127.0.0.1."""
import datetime as dt
import email
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notify.adapters.transport import PermanentFailure, TransportError, transport_from_url
from notify.mails.domain.messages import checked_sender, compose, email_confirmation
from notify.mails.domain.rendering import render


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """Start a server; `start(**options)` returns (inbox, port)."""
    controllers = []

    def start(**options):
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **options)
        controller.start()
        controllers.append(controller)
        return inbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()


def _accept_only(login: bytes, password: bytes):
    def authenticator(server, session, envelope, mechanism, auth_data):
        # handled=False: the server answers 535 itself on a refusal.
        return AuthResult(success=(auth_data.login, auth_data.password) == (login, password), handled=False)
    return authenticator


@pytest.fixture
def message(confirmation_data):
    draft = email_confirmation(confirmation_data())
    return compose(uuid.uuid4(), checked_sender("Portail assmat – PMI <ne-pas-repondre@assmat.local>"), draft,
                   render(draft.template, draft.context), dt.datetime.now(dt.timezone.utc))


def test_the_mail_arrives_through_smtp(smtp_server, message):
    inbox, port = smtp_server()

    transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5).send(message)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "ne-pas-repondre@assmat.local"
    assert envelope.rcpt_tos == ["marie.dupont@orange.fr"]
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert str(received["Subject"]) == "Confirmez votre adresse e-mail – espace professionnel"
    assert "jeton=s3cr3t&etape=2" in received.get_body(("plain",)).get_content()
    assert "jeudi 27 novembre 2025 à 15 h 30" in received.get_body(("html",)).get_content()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_from_the_url_log_in(smtp_server, message):
    inbox, port = smtp_server(auth_required=True, auth_require_tls=False,
                              authenticator=_accept_only(b"relais@cd28.fr", b"p:ss/w"))
    transport_from_url(f"smtp://relais%40cd28.fr:p%3Ass%2Fw@127.0.0.1:{port}", timeout=5).send(message)
    assert len(inbox.envelopes) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_a_transport_error(smtp_server, message):
    inbox, port = smtp_server(auth_required=True, auth_require_tls=False,
                              authenticator=_accept_only(b"relais", b"right"))
    with pytest.raises(PermanentFailure, match="authentication refused"):  # 535: a retry would not fix it
        transport_from_url(f"smtp://relais:wrong@127.0.0.1:{port}", timeout=5).send(message)
    assert inbox.envelopes == []


def test_starttls_asked_but_not_offered_fails_rather_than_sending_in_clear(smtp_server, message):
    inbox, port = smtp_server()
    with pytest.raises(TransportError):
        transport_from_url(f"smtp://127.0.0.1:{port}?starttls=1", timeout=5).send(message)
    assert inbox.envelopes == []


def test_an_unreachable_server_is_a_transport_error(message):
    with pytest.raises(TransportError, match="cannot reach"):
        transport_from_url(f"smtp://127.0.0.1:{_free_port()}", timeout=5).send(message)
