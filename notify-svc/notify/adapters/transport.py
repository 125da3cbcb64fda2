"""How mail leaves notify-svc: SMTP in production, a directory of .eml files (the sink) in local runs and tests.

`NOTIFY_MAIL_URL` picks the transport:
- `smtp://user:pass@host:port?starttls=1` (port 25 by default; user and password percent-encoded);
- `sink:///absolute/dir`: each mail becomes one RFC 5322 file in that directory. Several workers write there and
  the web process reads it, so a file appears whole or not at all (written aside, then renamed).
"""
from __future__ import annotations

import datetime as dt
import email
import ipaddress
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from services.settings import SettingsError

URL_VARIABLE = "NOTIFY_MAIL_URL"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class TransportError(Exception):
    """The mail could not be handed over; sending it again later may work."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 30.0

    def send(self, message: EmailMessage) -> None:
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise TransportError(f"cannot reach {self.host}:{self.port}: {error!r}") from error
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            client.close()
            raise TransportError(f"{self.host}:{self.port} refused the mail: {error!r}") from error
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass  # the server accepted the mail already: a failed goodbye must not make us send it twice


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

    def send(self, message: EmailMessage) -> None:
        # The name sorts by arrival time; the random part keeps names unique across processes.
        name = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.directory / f".{name}.partial"
            partial.write_bytes(message.as_bytes(policy=policy.SMTP))
            partial.replace(self.directory / f"{name}.eml")
        except OSError as error:
            raise TransportError(f"cannot write to the mail sink {self.directory}: {error!r}") from error

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
    if parts.scheme != "smtp":
        raise SettingsError(f"{URL_VARIABLE}: unsupported scheme {parts.scheme!r} (smtp or sink)")
    try:
        port = parts.port or 25
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
    username = unquote(parts.username) if parts.username else None
    if username and not starttls and not _is_loopback(parts.hostname):
        raise SettingsError(f"{URL_VARIABLE}: credentials would cross the network in clear; add ?starttls=1")
    return SmtpTransport(parts.hostname, port, username, unquote(parts.password) if parts.password else None,
                         starttls, timeout)


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
