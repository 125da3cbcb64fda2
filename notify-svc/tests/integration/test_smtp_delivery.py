"""The senders against a real SMTP server (aiosmtpd) on 127.0.0.1: accepted, 4xx then accepted, 5xx, connection
lost, implicit TLS, DKIM verified by an independent implementation, dot-stuffing, a conversation abandoned before
its final dot."""
import base64
import datetime as dt
import email
import ipaddress
import socket
import ssl
import threading
from email import policy

import dkim
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from notify.adapters.orm import failing_addresses, mails
from notify.adapters.transport import Abandoned, SmtpTransport, transport_from_url
from notify.bootstrap import bootstrap
from notify.mails.consumers import make_handlers
from notify.mails.delivery import Sender
from notify.mails.domain.dkim import DkimSigner
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import upgrade
from services.inbox import handle_once


class Scripted:
    """Accepts every mail, except: `refuse[address]` = list of replies to give to its next DATA (e.g. a 451 once)."""

    def __init__(self):
        self.envelopes = []
        self.refuse: dict[str, list[str]] = {}

    async def handle_DATA(self, server, session, envelope):
        replies = self.refuse.get(envelope.rcpt_tos[0])
        if replies:
            return replies.pop(0)
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server():
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def container(local_settings):
    upgrade(local_settings.database_url, "notify:migrations")
    container = bootstrap(local_settings)
    yield container
    container.engine.dispose()


def _queue(container, event):
    assert handle_once(container.session_factory, make_handlers(container.sender)[EMAIL_CONFIRMATION_REQUESTED.type],
                       event)


def _sender(container, transport, **options):
    return Sender(container.session_factory, transport, container.sender.addr_spec, [0.0, 0.0], **options)


def _row(container):
    with container.session_factory() as session:
        return session.execute(sa.select(mails)).mappings().one()


def test_a_queued_mail_arrives_through_smtp_with_its_message_id(container, server, confirmation_event):
    handler, port = server
    event = confirmation_event()
    _queue(container, event)

    assert _sender(container, transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5)).run_once() == "sent"

    [envelope] = handler.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("ne-pas-repondre@assmat.local", ["marie.dupont@orange.fr"])
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert received["Message-ID"] == _row(container)["message_id"]
    assert "jeton=s3cr3t&etape=2" in received.get_body(("plain",)).get_content()


def test_a_4xx_is_retried_and_the_mail_then_arrives_once(container, server, confirmation_event):
    handler, port = server
    handler.refuse["marie.dupont@orange.fr"] = ["451 4.7.1 Greylisted, try again later"]
    _queue(container, confirmation_event())
    sender = _sender(container, transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5))

    assert sender.run_once() == "queued"
    row = _row(container)
    assert (row["attempts"], row["smtp_code"]) == (1, 451) and "Greylisted" in row["last_error"]
    assert sender.run_once() == "sent"  # delays of 0 s in this test
    assert len(handler.envelopes) == 1


def test_a_5xx_fails_at_once_marks_the_address_failing_and_is_not_retried(container, server, confirmation_event):
    handler, port = server
    handler.refuse["marie.dupont@orange.fr"] = ["550 5.1.1 <marie.dupont@orange.fr>: Recipient address rejected"]
    _queue(container, confirmation_event())
    sender = _sender(container, transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5))

    assert sender.run_once() == "failed"
    assert sender.run_once() is None
    row = _row(container)
    assert (row["status"], row["attempts"], row["smtp_code"]) == ("failed", 1, 550)
    with container.session_factory() as session:
        [marked] = session.execute(sa.select(failing_addresses)).mappings().all()
    assert marked["address"] == "marie.dupont@orange.fr" and "Recipient address rejected" in marked["reason"]
    assert handler.envelopes == []


def test_a_server_that_is_down_is_a_temporary_failure(container, confirmation_event):
    _queue(container, confirmation_event())
    assert _sender(container, transport_from_url(f"smtp://127.0.0.1:{_free_port()}", timeout=2)).run_once() \
        == "queued"
    assert "cannot reach" in _row(container)["last_error"]


def test_a_connection_lost_before_the_final_dot_is_retried(container, confirmation_event):
    # A server that greets, takes the envelope, says 354, then hangs up without reading the message.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    hung_up = threading.Event()

    def serve():
        connection, _ = listener.accept()
        stream = connection.makefile("rwb")
        stream.write(b"220 fake\r\n"), stream.flush()
        for reply in (b"250 hi\r\n", b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
            stream.readline()
            stream.write(reply), stream.flush()
        connection.shutdown(socket.SHUT_RDWR)
        connection.close()
        hung_up.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    _queue(container, confirmation_event())
    transport = transport_from_url(f"smtp://127.0.0.1:{port}", timeout=2)

    def ready_after_the_hang_up():
        assert hung_up.wait(5)

    class Waits:
        def deliver(self, data, envelope_from, envelope_to, ready=lambda: None):
            def both():
                ready()
                ready_after_the_hang_up()
            transport.deliver(data, envelope_from, envelope_to, both)

    assert _sender(container, Waits()).run_once() == "queued"  # the dot never left: sent again later, safely
    thread.join(timeout=5)
    listener.close()
    row = _row(container)
    assert row["status"] == "queued" and "closed by the server before the end of DATA" in row["last_error"]


def test_a_conversation_abandoned_before_the_dot_leaves_nothing_at_the_server(server, confirmation_event):
    handler, port = server

    def ready():
        raise Abandoned()

    with pytest.raises(Abandoned):
        SmtpTransport("127.0.0.1", port, timeout=5).deliver(b"Subject: x\r\n\r\nbody\r\n", "a@assmat.local",
                                                            "b@example.org", ready)
    assert handler.envelopes == []


def test_lines_starting_with_a_dot_arrive_intact(server):
    handler, port = server
    data = b"Subject: x\r\n\r\nfirst\r\n.\r\n.hidden\r\nlast\r\n"
    SmtpTransport("127.0.0.1", port, timeout=5).deliver(data, "a@assmat.local", "b@example.org")
    [envelope] = handler.envelopes
    assert envelope.original_content.endswith(b"first\r\n.\r\n.hidden\r\nlast\r\n")


def _self_signed(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def test_implicit_tls_checks_the_certificate_and_delivers(tmp_path):
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), ssl_context=server_context)
    controller.start()
    try:
        parsed = transport_from_url(f"smtps://127.0.0.1:{controller.port}", timeout=5)
        assert parsed.implicit_tls
        # Not trusted by the system: refused, nothing sent in clear.
        with pytest.raises(Exception):
            parsed.deliver(b"Subject: x\r\n\r\nbody\r\n", "a@assmat.local", "b@example.org")
        assert handler.envelopes == []
        trusted = ssl.create_default_context(cafile=str(cert))
        SmtpTransport("127.0.0.1", controller.port, timeout=5, implicit_tls=True, tls_context=trusted).deliver(
            b"Subject: x\r\n\r\nbody\r\n", "a@assmat.local", "b@example.org")
        assert len(handler.envelopes) == 1
    finally:
        controller.stop()


def test_dkim_signature_verifies_with_an_independent_verifier(container, server, confirmation_event):
    handler, port = server
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    _queue(container, confirmation_event(display_name="Hélène Le Gall-Maréchal"))
    sender = _sender(container, transport_from_url(f"smtp://127.0.0.1:{port}", timeout=5),
                     signer=DkimSigner("assmat.local", "mail2026", key))

    assert sender.run_once() == "sent"

    [envelope] = handler.envelopes
    signed = envelope.original_content
    assert signed.startswith(b"DKIM-Signature: v=1;") and b"d=assmat.local;" in signed.split(b"\r\n\r\n")[0]

    def dns(name, timeout=5):
        assert name == b"mail2026._domainkey.assmat.local."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    assert b"s3cr3t" in signed
    assert not dkim.verify(signed.replace(b"s3cr3t", b"autre1"), dnsfunc=dns)  # the body is covered
    assert not dkim.verify(signed.replace(b"Subject: ", b"Subject: Re: ", 1), dnsfunc=dns)  # so is the subject
