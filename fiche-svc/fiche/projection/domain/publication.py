"""Publication rules: whether an assmat's fiche is on the public site, and what it shows.

Sources (DOMAIN.md, "Rules"):
- CASF D421-15: the assmat may oppose the publication of her name, address and phone; she then has no public fiche
  (she still appears on the mairie lists of L421-8, which are not this service's business).
- CASF L421-1 and L421-3: she may look after children only once approved, and D421-12 grants the agrément for a
  period: a fiche is public only while the agrément is in force, from validity_start (a decision can be sent
  before the day it takes effect: "not_started" until then) to validity_end (the last valid day, inclusive;
  "expired" after it). The seed's help page says the same: in activity, agrément in force, no opposition.
- An active agrément is published; a temporary stop keeps the fiche but hides its contact details; suspension,
  withdrawal and expiry end publication.
- The day matters, and no event marks the day an agrément starts or ends: the searches compare the validity dates
  with the day they run (`fiche.projection.queries.visible`), and the worker's sweeps announce what the day changed
  (`fiche.projection.commands.publish_started`, `unpublish_lapsed`).
- For the national site she may ask that her home address and one of e-mail or phone are not published: the home
  address is never stored here (only the commune, and coordinates at commune precision); the choice of the contact
  to hide is not collected yet, `public_contact(hidden_channel=...)` is where it will apply.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from fiche.projection.domain.agrement import AgrementState

PUBLIC_STATUSES = frozenset({"active", "temporary_stop"})
CONTACT_STATUSES = frozenset({"active"})
# Statuses that name their own reason to leave the site; any other non-public status is "unknown_status".
_STATUS_REASONS = frozenset({"suspended", "withdrawn", "expired", "not_started"})
KIND_ASSMAT = "assmat"
COMMUNE_PRECISION = "municipality"
_VALIDITY_ZONE = ZoneInfo("Europe/Paris")  # validity dates are the département's calendar days


def today() -> dt.date:
    return dt.datetime.now(_VALIDITY_ZONE).date()


def lapsed(validity_end: dt.date | None, on: dt.date) -> bool:
    return validity_end is not None and validity_end < on


def not_started(validity_start: dt.date | None, on: dt.date) -> bool:
    """The agrément does not allow her to work yet (CASF L421-1, L421-3): its first day is still to come."""
    return validity_start is not None and validity_start > on


def publishable(state: AgrementState, on: dt.date) -> bool:
    """Public on that day or from a later one: the rule without the start date. The fiche is public on the day
    when it is publishable and started (`unpublished_reason` is None exactly then). Once false because the
    agrément lapsed, it stays false until an event brings a new state."""
    return (state.status in PUBLIC_STATUSES and not state.publication_opposed
            and not lapsed(state.validity_end, on))


def status_reason(status: str) -> str:
    """Why a fiche with this non-public status is off the site (the fiche.unpublished reason)."""
    return status if status in _STATUS_REASONS else "unknown_status"


def withdrawal_status(sent: Any) -> str:
    """The status an agrement.withdrawn event leaves: the one sent (withdrawn, suspended), unless it is missing or
    public, which an event that ends publication cannot mean."""
    if isinstance(sent, str) and sent.strip() and sent.strip() not in PUBLIC_STATUSES and len(sent.strip()) <= 20:
        return sent.strip()
    return "withdrawn"


def unpublished_reason(state: AgrementState, on: dt.date) -> str | None:
    """None when the fiche is public on that day; otherwise why it is not (the fiche.unpublished reason)."""
    if state.status not in PUBLIC_STATUSES:
        return status_reason(state.status)
    if lapsed(state.validity_end, on):
        return "expired"
    if not_started(state.validity_start, on):
        return "not_started"  # CASF L421-1, L421-3: searched from its first day, announced by the worker's sweep
    if state.publication_opposed:
        return "opposed"  # CASF D421-15
    return None


def public_contact(status: str, email: str | None, phone: str | None,
                   hidden_channel: str | None = None) -> dict[str, str] | None:
    """Contact details shown to parents: only while the agrément is active (a temporary stop hides them), only
    those known, minus `hidden_channel` ("email" or "phone"), the one she may ask not to publish (not collected
    yet: every caller passes None)."""
    if status not in CONTACT_STATUSES:
        return None
    shown = {channel: value for channel, value in (("phone", phone), ("email", email))
             if value and channel != hidden_channel}
    return shown or None


def public_location(commune_insee: str, place_commune_insee: str | None, latitude: float | None,
                    longitude: float | None) -> dict[str, Any] | None:
    """The pin on the map: the commune's point only, never the home (see module doc). A place located in another
    commune than the agrément's is a stale location (she moved, geo-svc has not answered yet): no pin rather than a
    wrong one."""
    if place_commune_insee != commune_insee or latitude is None or longitude is None:
        return None
    return {"latitude": latitude, "longitude": longitude, "precision": COMMUNE_PRECISION}


def public_fiche(record: Mapping[str, Any]) -> dict[str, Any]:
    """The public view of a fiche row (joined with its commune's name and its place); callers check visibility."""
    return {
        "id": record["fiche_id"],
        "kind": record["kind"],
        "status": record["status"],
        "civility": record["civility"],
        "first_name": record["first_name"],
        "last_name": record["last_name"],
        "commune": {"insee": record["commune_insee"], "name": record["commune_name"],
                    "postcode": record["postcode"]},
        "capacity": {"total": record["capacity_total"], "under_3": record["capacity_under_3"]},
        "mam": {"name": record["mam_name"]} if record["in_mam"] and record["mam_name"] else None,
        "contact": public_contact(record["status"], record["email"], record["phone"]),
        "location": public_location(record["commune_insee"], record["place_commune_insee"], record["latitude"],
                                    record["longitude"]),
    }


def shown_point(public_latitude: float | None, public_longitude: float | None, precision: str,
                latitude: float | None, longitude: float | None, commune_latitude: float | None,
                commune_longitude: float | None) -> tuple[float | None, float | None]:
    """The point a fiche shows. geo-svc decides how precise the public pin may be (the address, or a point blurred
    to a few hundred metres, by the département's setting) and sends it as `public_*`; an event without them (sent
    before geo-svc knew of it) keeps the commune's point."""
    if public_latitude is not None and public_longitude is not None:
        return public_latitude, public_longitude
    return commune_point(precision, latitude, longitude, commune_latitude, commune_longitude)


def commune_point(precision: str, latitude: float | None, longitude: float | None,
                  commune_latitude: float | None, commune_longitude: float | None) -> tuple[float | None, float | None]:
    """The coordinates this service may keep for a located place: the geocoder's own when they are only the
    commune's, else the commune's point from the reference (a house-number or street result is the home)."""
    if precision == COMMUNE_PRECISION:
        return latitude, longitude
    return commune_latitude, commune_longitude
