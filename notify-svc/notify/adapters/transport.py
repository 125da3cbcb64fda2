"""How mail leaves notify-svc: SMTP in production, a directory of .eml files (the sink) in local runs and tests.

`NOTIFY_MAIL_URL` picks the transport:
- `smtp://user:pass@host:port?starttls=1` (port 25 by default; user and password percent-encoded);
- `smtps://user:pass@host:port`: implicit TLS (port 465 by default);
- `sink:///absolute/dir`: each mail becomes one RFC 5322 file in that directory. Several workers write there and
  the web process reads it, so a file appears whole or not at all (written aside, then renamed).
"""
from __future__ import annotations

import datetime as dt
import email
import ipaddress
import re
import select
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Iterator, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from services.settings import SettingsError

URL_VARIABLE = "NOTIFY_MAIL_URL"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class TransportError(Exception):
    """The mail could not be handed over; sending it again later may work (4xx, connection lost, timeout)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class PermanentFailure(TransportError):
    """The server refused the mail for good (5xx): sending it again would be refused again."""


class Unconfirmed(TransportError):
    """The final "." left but no answer came back: the server may hold the mail. Never sent again."""


class Abandoned(Exception):
    """`ready()` refused to let the mail go (another worker took it over): the conversation ends before the "."."""


class Transport(Protocol):
    def deliver(self, data: bytes, envelope_from: str, envelope_to: str,
                ready: Callable[[], None] = ...) -> None: ...


def envelope(message: EmailMessage) -> tuple[str, str]:
    """(MAIL FROM, RCPT TO) of a message: its From and its To."""
    sender = getattr(message["From"], "addresses", ())
    recipient = getattr(message["To"], "addresses", ())
    return (sender[0].addr_spec if sender else ""), (recipient[0].addr_spec if recipient else "")


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." gets a second one; CRLF line ends; no final "." yet."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 30.0
    implicit_tls: bool = False          # smtps:// (port 465): TLS from the first byte
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)  # tests: a private CA

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def deliver(self, data: bytes, envelope_from: str, envelope_to: str,
                ready: Callable[[], None] = lambda: None) -> None:
        """One SMTP conversation for `data` (an RFC 5322 message). `ready()` runs once the whole message is with the server except its final ".":
        the caller records there that the mail is about to leave; if it raises Abandoned, the connection is
        dropped and the server discards the mail. 4xx and lost connections raise TransportError, 5xx
        PermanentFailure, no answer after the "." Unconfirmed."""
        data = _dot_stuffed(data)
        try:
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise TransportError(f"cannot reach {self.host}:{self.port}: {error!r}") from error
        dot_sent = False
        try:
            # The final "." is written apart from the data (after `ready()`): without TCP_NODELAY, Nagle holds it
            # until the server's delayed ACK of the data, up to 40 ms a mail.
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._expect(client.ehlo(), (250,), "EHLO")
            if self.starttls:
                client.starttls(context=self._context())
                self._expect(client.ehlo(), (250,), "EHLO")
            if self.username:
                client.login(self.username, self.password or "")
            self._expect(client.mail(envelope_from), (250,), "MAIL FROM")
            self._expect(client.rcpt(envelope_to), (250, 251), "RCPT TO")
            self._expect(client.docmd("DATA"), (354,), "DATA")
            client.send(data)
            try:
                ready()
            except BaseException:  # Abandoned, or the database failing: no final ".", the server drops the mail
                client.close()
                raise
            if self._peer_gone(client):
                # The server hung up (or spoke, which it must not do mid-DATA) before our dot: it holds nothing.
                raise smtplib.SMTPServerDisconnected("connection closed by the server before the end of DATA")
            dot_sent = True
            client.send(b".\r\n")
            self._expect(client.getreply(), (250,), "end of DATA")
        except smtplib.SMTPAuthenticationError as error:
            client.close()
            raise _classified(error.smtp_code, f"authentication refused: {error!r}") from error
        except smtplib.SMTPResponseException as error:
            client.close()
            raise _classified(error.smtp_code, f"{self.host}:{self.port}: {error.smtp_code} "
                              f"{_text(error.smtp_error)}") from error
        except (OSError, smtplib.SMTPException) as error:
            client.close()
            if dot_sent:
                raise Unconfirmed(f"{self.host}:{self.port}: no answer after the message: {error!r}") from error
            raise TransportError(f"{self.host}:{self.port}: {error!r}") from error
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass  # the server accepted the mail already: a failed goodbye must not make us send it twice

    def send(self, message: EmailMessage) -> None:
        self.deliver(message.as_bytes(policy=policy.SMTP), *envelope(message))

    @staticmethod
    def _peer_gone(client: smtplib.SMTP) -> bool:
        """True when the server already closed the connection, or spoke (a reply mid-DATA ends the transaction),
        before our final dot. Plain TCP only: on TLS, records such as TLS 1.3 session tickets make the socket
        readable without the server having said anything, so there the dot goes and the answer tells."""
        sock = client.sock
        if sock is None:
            return True
        if isinstance(sock, ssl.SSLSocket):
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    @staticmethod
    def _expect(reply: tuple[int, bytes], accepted: tuple[int, ...], step: str) -> None:
        code, text = reply
        if code not in accepted:
            raise smtplib.SMTPResponseException(code, f"{step}: {_text(text)}".encode())


def _text(value) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()[:500]


def _classified(code: int | None, message: str) -> TransportError:
    if code is not None and 500 <= code < 600:
        return PermanentFailure(message, code)
    return TransportError(message, code)


@dataclass(frozen=True)
class SinkMessage:
    id: str
    message: EmailMessage

    @property
    def to(self) -> str:
        addresses = getattr(self.message["To"], "addresses", ())
        return addresses[0].addr_spec if addresses else ""

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def date(self) -> dt.datetime | None:
        return getattr(self.message["Date"], "datetime", None)

    def _part(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        # Files keep the CRLF line ends of RFC 5322; readers of the sink want plain text.
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    @property
    def text(self) -> str:
        return self._part("plain")

    @property
    def html(self) -> str:
        return self._part("html")

    @property
    def links(self) -> list[str]:
        return extract_links(self.text)


_LINK = re.compile(r"https?://[^\s<>\"']+")
_SINK_ID = re.compile(r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{32}$")


def link_spans(text: str) -> list[tuple[int, int]]:
    """Where the web links of a plain text start and end."""
    # A sentence may end right after a link: its closing punctuation is not part of it.
    return [(match.start(), match.start() + len(match.group(0).rstrip(".,;:!?)»"))) for match in _LINK.finditer(text)]


def extract_links(text: str) -> list[str]:
    return [text[start:end] for start, end in link_spans(text)]


@dataclass(frozen=True)
class SinkTransport:
    directory: Path

    def deliver(self, data: bytes, envelope_from: str = "", envelope_to: str = "",
                ready: Callable[[], None] = lambda: None) -> None:
        # The name sorts by arrival time; the random part keeps names unique across processes. The rename is the
        # sink's final ".": `ready()` runs just before it.
        name = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}"
        partial = self.directory / f".{name}.partial"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
        except OSError as error:
            raise TransportError(f"cannot write to the mail sink {self.directory}: {error!r}") from error
        try:
            ready()
        except Abandoned:
            partial.unlink(missing_ok=True)
            raise
        try:
            partial.replace(self.directory / f"{name}.eml")
        except OSError as error:
            raise TransportError(f"cannot write to the mail sink {self.directory}: {error!r}") from error

    def send(self, message: EmailMessage) -> None:
        self.deliver(message.as_bytes(policy=policy.SMTP))

    def messages(self) -> Iterator[SinkMessage]:
        """Newest first; a file removed meanwhile (the sink was cleared) is skipped."""
        for path in sorted(self.directory.glob("*.eml"), reverse=True):
            found = self._read(path)
            if found is not None:
                yield found

    def get(self, message_id: str) -> SinkMessage | None:
        if not _SINK_ID.match(message_id):  # never let a URL segment walk out of the directory
            return None
        return self._read(self.directory / f"{message_id}.eml")

    def clear(self) -> int:
        removed = 0
        for path in self.directory.glob("*.eml"):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    @staticmethod
    def _read(path: Path) -> SinkMessage | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return SinkMessage(path.stem, email.message_from_bytes(data, policy=policy.default))


def transport_from_url(url: str, timeout: float = 30.0) -> SmtpTransport | SinkTransport:
    """Parse `NOTIFY_MAIL_URL` without connecting anywhere; SettingsError says what is wrong with it."""
    if not url:
        raise SettingsError(f"{URL_VARIABLE} is empty: set smtp://host:port or, for a local run, sink:///abs/dir")
    parts = urlsplit(url)
    if parts.scheme == "sink":
        if parts.netloc or not parts.path.startswith("/") or parts.query:
            raise SettingsError(f"{URL_VARIABLE}: a sink is written sink:///absolute/directory, got {url!r}")
        return SinkTransport(Path(unquote(parts.path)))
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(f"{URL_VARIABLE}: unsupported scheme {parts.scheme!r} (smtp, smtps or sink)")
    implicit_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit_tls else 25)
    except ValueError:
        raise SettingsError(f"{URL_VARIABLE}: the port is not a number between 0 and 65535") from None
    if not parts.hostname or parts.path not in ("", "/"):
        raise SettingsError(f"{URL_VARIABLE}: expected smtp://[user:password@]host[:port][?starttls=1]")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise SettingsError(f"{URL_VARIABLE}: unknown option(s) {', '.join(unknown)} (only starttls)")
    starttls_value = query.get("starttls", ["0"])[-1].lower()
    if starttls_value not in _TRUE | _FALSE:
        raise SettingsError(f"{URL_VARIABLE}: starttls must be 1 or 0, got {starttls_value!r}")
    starttls = starttls_value in _TRUE
    if starttls and implicit_tls:
        raise SettingsError(f"{URL_VARIABLE}: smtps:// is TLS from the start; starttls=1 belongs to smtp://")
    username = unquote(parts.username) if parts.username else None
    if username and not (starttls or implicit_tls) and not _is_loopback(parts.hostname):
        raise SettingsError(f"{URL_VARIABLE}: credentials would cross the network in clear; add ?starttls=1")
    return SmtpTransport(parts.hostname, port, username, unquote(parts.password) if parts.password else None,
                         starttls, timeout, implicit_tls)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_transport(settings) -> SmtpTransport | SinkTransport:
    """The transport the settings ask for; a sink outside local runs would swallow real people's mail."""
    transport = transport_from_url(settings.mail_url, settings.smtp_timeout_seconds)
    if isinstance(transport, SinkTransport) and not settings.is_local:
        raise SettingsError(f"{URL_VARIABLE}: the sink is for local runs and tests only "
                            f"(ASSMAT_ENV={settings.environment!r}); configure an SMTP server")
    return transport
