"""The part of an agrément event that fiche-svc keeps.

Agrément events carry the whole record, birth date and home address included (identity needs the former, geo-svc
the latter). Only what a public fiche may show, plus what decides whether it is shown, is picked here: anything
else is never read, so it cannot be stored by mistake.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from services.events import InvalidEvent
from services.validators import is_insee_code, is_pmi_number, is_postcode


@dataclass(frozen=True)
class AgrementState:
    civility: str | None
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    postcode: str
    commune_insee: str
    capacity_total: int
    capacity_under_3: int
    validity_start: dt.date | None  # first day of validity: not public before it (see publication.not_started)
    validity_end: dt.date | None  # last day of validity, inclusive
    status: str
    publication_opposed: bool
    in_mam: bool  # place_type mam; any other place is shown as the assmat's own
    mam_name: str | None
    mam_id: str | None  # the MAM's structure_id (its fiche lists its members), when she works in one


def pmi_number(subject: str) -> str:
    if not is_pmi_number(subject):
        raise InvalidEvent(f"agrément subject {subject!r} is not a 6-digit PMI number")
    return subject


def status(data: Mapping[str, Any]) -> str:
    """The status as sent. An unknown value is kept, not refused: the publication rules show only the statuses
    they know to be public, so a status added upstream hides the fiche instead of blocking the event."""
    value = data.get("status")
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 20:
        raise InvalidEvent(f"agrément field status is not a status: {value!r}")
    return value.strip()


def agrement_state(data: Mapping[str, Any]) -> AgrementState:
    """Read an agrément event's data; InvalidEvent names the first field that cannot be used."""
    def text(name: str, required: bool = False, limit: int = 100) -> str | None:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidEvent(f"agrément field {name} is not a string")
        value = (value or "").strip() or None
        if required and value is None:
            raise InvalidEvent(f"agrément field {name} is empty")
        if value is not None and len(value) > limit:
            raise InvalidEvent(f"agrément field {name} is longer than {limit} characters")
        return value

    def matching(name: str, well_formed: Callable[[str], bool]) -> str:
        value = text(name, required=True)
        if not well_formed(value):
            raise InvalidEvent(f"agrément field {name} has an unexpected form: {value!r}")
        return value

    def count(name: str) -> int:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidEvent(f"agrément field {name} is not a count: {value!r}")
        return value

    def day(name: str) -> dt.date | None:
        value = text(name)
        try:
            return dt.date.fromisoformat(value) if value else None
        except ValueError:
            raise InvalidEvent(f"agrément field {name} is not a date: {value!r}") from None

    if not isinstance(data.get("publication_opposed"), bool):
        raise InvalidEvent("agrément field publication_opposed is not a boolean")
    # The assmat asked her PMI to stay on the site without any contact details (recorded in agrement-svc's back
    # office; absent from the extract's events): the fiche never learns them, so no page can show them.
    contact_hidden = data.get("publication_contact_hidden") is True
    return AgrementState(
        civility=text("civility", limit=10), first_name=text("first_name", required=True),
        last_name=text("last_name", required=True),
        email=None if contact_hidden else text("email", limit=254),
        phone=None if contact_hidden else text("phone", limit=30),
        postcode=matching("postcode", is_postcode), commune_insee=matching("commune_insee", is_insee_code),
        capacity_total=count("capacity_total"), capacity_under_3=count("capacity_under_3"),
        validity_start=day("validity_start"), validity_end=day("validity_end"), status=status(data),
        publication_opposed=data["publication_opposed"], in_mam=text("place_type") == "mam",
        mam_name=text("mam_name", limit=200),
        mam_id=text("mam_id", limit=32) if text("place_type") == "mam" else None,
    )
