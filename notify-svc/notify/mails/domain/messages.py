"""From an event to the mail a person receives: who, which template, what it says, and the RFC 5322 message.

A composer reads only the fields its mail needs and refuses data that would make a wrong mail (InvalidEvent):
the bus retries and then dead-letters such an event, where someone can look at it.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

from notify.mails.domain.rendering import Rendered
from services.events import InvalidEvent


@dataclass(frozen=True)
class Draft:
    """A mail to send, before rendering: what the template needs and nothing else."""
    template: str
    recipient: str
    recipient_name: str
    context: dict[str, Any]


def email_confirmation(data: Mapping[str, Any]) -> Draft:
    """identity.email_confirmation_requested: the single-use link that completes the account's activation."""
    name = _one_line(data.get("display_name"))
    return Draft("email_confirmation", _address(data.get("email")), name, {
        "display_name": name,
        "confirmation_url": _link(data.get("confirmation_url")),
        "expires_at": _moment(data.get("expires_at")),
    })


def activation_address_replaced(data: Mapping[str, Any]) -> Draft:
    """identity.activation_address_replaced: the previous address of a pending activation is told another one was
    given (its link no longer works), in case it was not her."""
    name = _one_line(data.get("display_name"))
    return Draft("activation_address_replaced", _address(data.get("email")), name, {
        "display_name": name, "new_email_masked": _one_line(data.get("new_email_masked"))[:80]})


def activation_elsewhere_notice(data: Mapping[str, Any]) -> Draft:
    """identity.activation_elsewhere_notice: the address the PMI knows is told that the account was activated
    with another one (or by PMI central), in case it was not her."""
    name = _one_line(data.get("display_name"))
    return Draft("activation_elsewhere_notice", _address(data.get("email")), name, {
        "display_name": name, "account_email_masked": _one_line(data.get("account_email_masked"))[:80],
        "by_pmi_central": data.get("method") == "pmi_central"})


_ACCOUNT_TYPE_LABELS = {"assmat": "assistant maternel", "mam": "MAM", "rpe": "relais petite enfance",
                        "staff": "personnel de la PMI"}


def password_reset(data: Mapping[str, Any]) -> Draft:
    """identity.password_reset_requested: the single-use link to choose a password (a MAM's or an RPE's first
    one too). Never a password: only the link."""
    name = _one_line(data.get("display_name"))
    return Draft("password_reset", _address(data.get("email")), name, {
        "display_name": name,
        "reset_url": _link(data.get("reset_url")),
        "expires_at": _moment(data.get("expires_at")),
        "first_password": bool(data.get("first_password")),
        "account_label": _ACCOUNT_TYPE_LABELS.get(str(data.get("account_type")), ""),
    })


def password_changed(data: Mapping[str, Any]) -> Draft:
    """identity.password_changed: "votre mot de passe a été changé", and what to do if it was not her."""
    name = _one_line(data.get("display_name"))
    return Draft("password_changed", _address(data.get("email")), name, {
        "display_name": name,
        "changed_at": _moment(data.get("changed_at")),
    })


def email_changed(data: Mapping[str, Any]) -> Draft:
    """identity.email_changed: to the previous address, with the new one masked (enough to recognise it)."""
    name = _one_line(data.get("display_name"))
    return Draft("email_changed", _address(data.get("previous_email")), name, {
        "display_name": name,
        "new_email_masked": _one_line(data.get("new_email_masked"))[:100],
        "changed_at": _moment(data.get("changed_at")),
    })


def compose(mail_id: uuid.UUID, sender: Address, draft: Draft, rendered: Rendered,
            now: dt.datetime) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = Address(display_name=draft.recipient_name, addr_spec=draft.recipient)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{mail_id}@{sender.domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office robots must not answer
    # quoted-printable: 7-bit clean, so no server needs 8BITMIME, and the lines stay short.
    message.set_content(rendered.text, cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    message["Content-Language"] = "fr"  # after the parts: setting content drops the Content-* headers before it
    return message


def checked_sender(value: str) -> Address:
    """The one address of a From header (`Nom <adresse@domaine>`); ValueError says why it is not one."""
    address = _single_address(value)
    if address is None:
        raise ValueError(f"{value!r} is not one address like « Nom <adresse@domaine.fr> »")
    return address


def _single_address(value: str) -> Address | None:
    header = policy.default.header_factory("To", value)
    if header.defects or len(header.addresses) != 1:
        return None
    address = header.addresses[0]
    return address if address.username and "." in address.domain else None


def _one_line(value: Any) -> str:
    # Names land in a header and in the greeting: line breaks would let them write elsewhere.
    return " ".join(str(value or "").split())[:200]


def bare_address(value: Any) -> str | None:
    """`value` if it is one bare e-mail address (nothing around it, no line break), else None."""
    text = str(value or "").strip()
    address = _single_address(text) if 0 < len(text) <= 320 else None
    return text if address is not None and address.addr_spec == text else None


def _address(value: Any) -> str:
    text = str(value or "").strip()
    address = _single_address(text) if len(text) <= 320 else None
    if address is None or address.addr_spec != text:  # a bare address, nothing around it
        raise InvalidEvent(f"{text!r} is not an e-mail address")
    return text


def _link(value: Any) -> str:
    text = str(value or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c.isspace() for c in text):
        raise InvalidEvent(f"{text!r} is not a web link")
    return text


def _moment(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidEvent(f"{value!r} is not an ISO 8601 date and time") from None
