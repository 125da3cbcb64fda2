"""What a report of a change of situation is, and what makes one acceptable. Pure: no framework, no database.

Every refusal is collected field by field (French messages, shown as is), so nothing is half-saved: a report is
either wholly valid or refused.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, field

# The kinds of change an assmat reports (issue 7), with their French labels.
KINDS = {
    "moving": "Déménagement",
    "household": "Changement dans le foyer",
    "housing": "Changement de logement",
    "temporary_stop": "Arrêt temporaire d'activité",
    "resumption": "Reprise d'activité",
    "end_of_activity": "Fin d'activité",
    "other": "Autre changement",
}
# CASF R421-41: a move is told to the département at least 15 days before moving in.
MOVING_NOTICE_DAYS = 15
TEXT_MAX = 4000
MAX_ATTACHMENTS = 3
NAME_MAX = 200

# The workflow: received → in progress → processed or refused (refused with a message for the assmat).
RECEIVED, IN_PROGRESS, PROCESSED, REFUSED = "received", "in_progress", "processed", "refused"
STATUS_LABELS = {RECEIVED: "Reçu", IN_PROGRESS: "En cours de traitement", PROCESSED: "Traité", REFUSED: "Refusé"}
TRANSITIONS = {RECEIVED: {IN_PROGRESS, PROCESSED, REFUSED}, IN_PROGRESS: {PROCESSED, REFUSED},
               PROCESSED: set(), REFUSED: set()}

# What an attachment may be: told by its first bytes, never by its name; and the name must say the same.
_SIGNATURES = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
)
_POSTCODE = re.compile(r"[0-9]{5}")


class ReportRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Attachment:
    file_name: str
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Report:
    kind: str
    text: str
    details: dict = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


def sniff(content: bytes) -> tuple[str, tuple[str, ...]] | None:
    """The content type the bytes really are (PDF, PNG or JPEG), with the extensions that name it; None otherwise."""
    for magic, content_type, extensions in _SIGNATURES:
        if content.startswith(magic):
            return content_type, extensions
    return None


def check_attachment(file_name: str, content: bytes, max_bytes: int) -> tuple[Attachment | None, str | None]:
    name = (file_name or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:NAME_MAX]
    if not content:
        return None, f"Le fichier « {name or 'sans nom'} » est vide."
    if len(content) > max_bytes:
        return None, (f"Le fichier « {name} » dépasse la taille maximale de {max_bytes // 1024} Ko.")
    found = sniff(content)
    if found is None:
        return None, f"Le fichier « {name} » n'est ni un PDF ni une image (PNG ou JPEG)."
    content_type, extensions = found
    if not name.lower().endswith(extensions):
        return None, (f"Le fichier « {name} » ne correspond pas à son nom : son contenu est un "
                      f"{'PDF' if content_type == 'application/pdf' else 'fichier image'}.")
    return Attachment(name, content_type, content), None


def decode_attachments(items, max_bytes: int) -> tuple[list[Attachment], str | None]:
    """`[{"file_name", "content" (base64)}]` from the API, checked; the first refusal as a French message."""
    if items in (None, ""):
        return [], None
    if not isinstance(items, list) or len(items) > MAX_ATTACHMENTS:
        return [], f"Joignez au plus {MAX_ATTACHMENTS} fichiers."
    attachments = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("file_name"), str) \
                or not isinstance(item.get("content"), str):
            return [], "Pièce jointe illisible."
        try:
            content = base64.b64decode(item["content"], validate=True)
        except (binascii.Error, ValueError):
            return [], "Pièce jointe illisible."
        attachment, error = check_attachment(item["file_name"], content, max_bytes)
        if error:
            return [], error
        attachments.append(attachment)
    return attachments, None


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_iso_date(value) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def check_report(body: dict, attachments: list[Attachment], today: dt.date) -> Report:
    """The report the body describes, or ReportRefused with every French reason by field."""
    errors: dict[str, str] = {}
    kind = body.get("kind")
    if kind not in KINDS:
        errors["kind"] = "Choisissez le type de changement à signaler."
    text = _text(body.get("text"))
    if len(text) > TEXT_MAX:
        errors["text"] = f"Le message ne doit pas dépasser {TEXT_MAX} caractères."
    elif kind in ("other", "household", "housing") and not text:
        errors["text"] = "Décrivez le changement en quelques mots."
    details: dict = {}
    if kind == "moving":
        moving_date = parse_iso_date(body.get("moving_date"))
        if moving_date is None:
            errors["moving_date"] = "Indiquez la date d'emménagement (jj/mm/aaaa)."
        elif moving_date < today + dt.timedelta(days=MOVING_NOTICE_DAYS):
            errors["moving_date"] = (
                f"Un déménagement se signale au moins {MOVING_NOTICE_DAYS} jours avant l'emménagement (article "
                f"R421-41 du CASF) : la date doit être le {(today + dt.timedelta(days=MOVING_NOTICE_DAYS)).strftime('%d/%m/%Y')} "
                "ou après. Pour un déménagement plus proche, appelez votre circonscription de PMI.")
        address = _text(body.get("new_address_line"))
        if not address or len(address) > 300:
            errors["new_address_line"] = "Indiquez la nouvelle adresse (300 caractères au plus)."
        postcode = _text(body.get("new_postcode"))
        if not _POSTCODE.fullmatch(postcode):
            errors["new_postcode"] = "Le code postal comporte 5 chiffres."
        commune = _text(body.get("new_commune"))
        if not commune or len(commune) > 100:
            errors["new_commune"] = "Indiquez la commune de la nouvelle adresse."
        if moving_date is not None:
            details = {"moving_date": moving_date.isoformat(), "new_address_line": address,
                       "new_postcode": postcode, "new_commune": commune}
    elif kind in ("temporary_stop", "resumption", "end_of_activity"):
        raw = body.get("effective_date")
        if raw not in (None, ""):
            effective = parse_iso_date(raw)
            if effective is None:
                errors["effective_date"] = "La date indiquée n'est pas valide (jj/mm/aaaa)."
            elif effective < today - dt.timedelta(days=365):
                errors["effective_date"] = "La date indiquée est trop ancienne."
            else:
                details = {"effective_date": effective.isoformat()}
    if errors:
        raise ReportRefused(errors)
    return Report(kind=kind, text=text, details=details, attachments=tuple(attachments))


def check_transition(current: str, target: str, message: str) -> tuple[str, str] | None:
    """Why staff may not move a report from `current` to `target`, as (code, French message), or None. Codes:
    `invalid_status` (no such step), `invalid_transition` (the step does not follow), `invalid_message`."""
    if target not in STATUS_LABELS or target == RECEIVED:
        return "invalid_status", "Choisissez l'étape suivante : en cours, traité ou refusé."
    if target not in TRANSITIONS.get(current, set()):
        return "invalid_transition", (f"Ce signalement est déjà « {STATUS_LABELS.get(current, current)} » : il ne "
                                      f"peut plus passer à « {STATUS_LABELS[target]} ».")
    if target == REFUSED and not message.strip():
        return "invalid_message", ("Un refus s'accompagne d'un message à l'assistant·e maternel·le qui en explique "
                                   "la raison.")
    if len(message) > TEXT_MAX:
        return "invalid_message", f"Le message ne doit pas dépasser {TEXT_MAX} caractères."
    return None
