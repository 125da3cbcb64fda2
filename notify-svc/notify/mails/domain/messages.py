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
    # When `recipient` is empty: whom to look up in the address book, ("account_id" | "pmi_number", value).
    lookup: tuple[str, str] | None = None


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


# Reports of a change of situation (agrement-svc): the kinds' French labels, as the portal shows them.
_REPORT_KINDS = {
    "moving": "Déménagement",
    "household": "Changement dans le foyer",
    "housing": "Changement de logement",
    "temporary_stop": "Arrêt temporaire d'activité",
    "resumption": "Reprise d'activité",
    "end_of_activity": "Fin d'activité",
    "other": "Autre changement",
}
_REPORT_TEMPLATES = {"received": "report_received", "in_progress": "report_in_progress",
                     "processed": "report_processed", "refused": "report_refused"}


def report_step(data: Mapping[str, Any]) -> Draft:
    """report.received and report.status_changed: where her report stands (received, in progress, processed, or
    refused with the PMI's message). To the extract's address when it has a usable one, else the account of her
    PMI number (`lookup`). Only what she needs to recognise her report: its kind and when it was sent."""
    status = str(data.get("status") or "")
    template = _REPORT_TEMPLATES.get(status)
    if template is None:
        raise InvalidEvent(f"report status {status!r} has no mail")
    kind = _REPORT_KINDS.get(str(data.get("kind") or ""))
    if kind is None:
        raise InvalidEvent(f"report kind {data.get('kind')!r} is unknown")
    pmi_number = _one_line(data.get("pmi_number"))[:32]
    recipient = bare_address(data.get("email")) or ""
    if not recipient and not pmi_number:
        raise InvalidEvent("report event without address nor PMI number")
    name = _one_line(f"{data.get('first_name') or ''} {data.get('last_name') or ''}")
    message = str(data.get("message") or "").strip()[:2000]
    if status == "refused" and not message:
        raise InvalidEvent("a refused report without the PMI's message")
    return Draft(template, recipient, name, {
        "display_name": name, "kind_label": kind, "at": _moment(data.get("at")), "message": message,
    }, lookup=None if recipient else ("pmi_number", pmi_number))


def correction_decided(data: Mapping[str, Any]) -> Draft:
    """correction.decided: support accepted her correction of where her home is on the map, or refused it with
    the reason. The event names her account only: the address comes from the address book."""
    decision = data.get("decision")
    if decision not in ("accepted", "refused"):
        raise InvalidEvent(f"correction decision {decision!r} is neither accepted nor refused")
    account_id = _one_line(data.get("account_id"))[:36]
    if not account_id:
        raise InvalidEvent("correction.decided without account_id")
    reason = str(data.get("reason") or "").strip()[:2000]
    if decision == "refused" and not reason:
        raise InvalidEvent("a refused correction without its reason")
    return Draft(f"correction_{decision}", "", "", {
        "display_name": "",  # the event names her account only; the greeting does without
        "commune_name": _one_line(data.get("commune_name"))[:100], "reason": reason,
        "decided_at": _moment(data.get("decided_at")),
    }, lookup=("account_id", account_id))


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
