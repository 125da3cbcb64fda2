"""Alerts to the circonscriptions: what agrement-svc's declarations tell the PMI (a late declaration, a capacity
exceeded, an exceptional over-capacity), mailed to the circonscription's mailbox named in
NOTIFY_CIRCONSCRIPTION_ADDRESSES.

The events carry the assmat's PMI number and her circonscription, never a child's name; the mails say no more:
the PMI number, the dates, what was exceeded, and the link to the PMI's space where the agents read the rest.
An event that is not to be mailed (a declaration on time, a circonscription without a mailbox) raises Skipped:
the handler logs it and is done with the event (no row, no retry, no dead letter: waiting would not change it).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from notify.mails.domain.messages import Draft, bare_address
from services.events import InvalidEvent

DECLARATIONS_PATH = "/espace-pmi/declarations"
# At most this many exceedance lines in a mail: the full list is in the PMI's space.
MAX_LINES = 20

_KINDS = {"arrival": "Arrivée d'un enfant", "change": "Modification d'un accueil", "departure": "Départ d'un enfant"}
_RULES = {
    "places": "nombre d'enfants accueillis supérieur aux places de l'agrément",
    "places_under_3": "enfants de moins de 3 ans accueillis au-delà des places de l'agrément",
    "minors_under_11": "plus de mineurs de moins de 11 ans présents que permis (enfants de l'assmat compris)",
    "under_3": "plus de 4 enfants de moins de 3 ans présents (enfants de l'assmat compris)",
}


class Skipped(Exception):
    """The event is not mailed, for the reason given (logged by the handler); not an error. `warning`: someone
    should look (a circonscription without mailbox), not the ordinary case (a declaration on time)."""

    def __init__(self, reason: str, *, warning: bool = False):
        super().__init__(reason)
        self.warning = warning


def _key(name: Any) -> str:
    # "Chartres", " chartres " and "CHARTRES" are one circonscription: names come from extracts typed by people.
    return " ".join(str(name or "").split()).casefold()


def parse_mailboxes(text: str) -> dict[str, str]:
    """`Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr` → {key: address}; empty → {} (no alerts).
    ValueError (French) says which entry is wrong."""
    mailboxes: dict[str, str] = {}
    for entry in (part.strip() for part in str(text or "").split(";")):
        if not entry:
            continue
        name, equals, address = entry.partition("=")
        if not equals or not _key(name):
            raise ValueError(f"« {entry} » n'est pas de la forme circonscription=adresse "
                             "(ex. Chartres=pmi.chartres@cd28.fr;Dreux=pmi.dreux@cd28.fr)")
        if bare_address(address.strip()) is None:
            raise ValueError(f"« {address.strip()} » (circonscription {name.strip()}) n'est pas une adresse e-mail")
        if _key(name) in mailboxes:
            raise ValueError(f"la circonscription « {name.strip()} » est donnée deux fois")
        mailboxes[_key(name)] = address.strip()
    return mailboxes


def _mailbox(data: Mapping[str, Any], mailboxes: Mapping[str, str]) -> str:
    circonscription = _key(data.get("circonscription"))
    if not mailboxes:
        raise Skipped("no circonscription mailbox configured (NOTIFY_CIRCONSCRIPTION_ADDRESSES is empty)",
                      warning=True)
    if circonscription not in mailboxes:
        raise Skipped(f"no mailbox for circonscription {circonscription[:80]!r} in NOTIFY_CIRCONSCRIPTION_ADDRESSES",
                      warning=True)
    return mailboxes[circonscription]


def _common(data: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    pmi_number = " ".join(str(data.get("pmi_number") or "").split())[:32]
    if not pmi_number:
        raise InvalidEvent("alert without pmi_number")
    return {"pmi_number": pmi_number,
            "circonscription": " ".join(str(data.get("circonscription") or "").split())[:100],
            "declarations_url": base_url.rstrip("/") + DECLARATIONS_PATH}


def late_declaration(data: Mapping[str, Any], *, mailboxes: Mapping[str, str], base_url: str) -> Draft:
    """contract.declared: mailed only when `late` (R421-39: more than 8 days after the arrival, change or departure);
    a declaration on time is not news for the circonscription."""
    if data.get("late") is not True:
        raise Skipped("declaration on time: not mailed")
    recipient = _mailbox(data, mailboxes)
    kind = _KINDS.get(str(data.get("kind") or ""))
    if kind is None:
        raise InvalidEvent(f"declaration kind {data.get('kind')!r} is unknown")
    return Draft("circonscription_late_declaration", recipient, "", {
        **_common(data, base_url), "kind_label": kind, "effective_date": _day(data.get("effective_date")),
        "declared_at": _moment(data.get("declared_at")), "over_capacity": data.get("over_capacity") is True})


def capacity_exceeded(data: Mapping[str, Any], *, mailboxes: Mapping[str, str], base_url: str) -> Draft:
    """capacity.exceeded: a declaration saved although the children present break L421-4; each interval and the
    rules it breaks."""
    recipient = _mailbox(data, mailboxes)
    listed = data.get("exceedances")
    if not isinstance(listed, list) or not listed:
        raise InvalidEvent("capacity.exceeded without exceedances")
    lines = []
    for item in listed[:MAX_LINES]:
        if not isinstance(item, dict):
            raise InvalidEvent("an exceedance is not an object")
        rules = item.get("rules") if isinstance(item.get("rules"), list) else []
        lines.append({"date": _day(item.get("date")), "start": _hhmm(item.get("start")), "end": _hhmm(item.get("end")),
                      "rules": [_RULES.get(str(rule), "règle de l'article L421-4") for rule in rules]
                      or ["règle de l'article L421-4"],
                      "exceptional": item.get("exceptional") is True})
    return Draft("circonscription_capacity_exceeded", recipient, "", {
        **_common(data, base_url), "exceedances": lines, "more": max(0, len(listed) - MAX_LINES)})


def over_capacity_declared(data: Mapping[str, Any], *, mailboxes: Mapping[str, str], base_url: str) -> Draft:
    """capacity.over_capacity_declared: an exceptional over-capacity (L421-4 III) with each day's total of under-11s
    (D421-17); "déclarée tardivement" when told more than 48 hours after its first day. Not the assmat's reason:
    free text, it may name a child; the agents read it in the PMI's space."""
    recipient = _mailbox(data, mailboxes)
    totals = data.get("day_totals")
    if not isinstance(totals, dict) or not totals:
        raise InvalidEvent("over-capacity declaration without day_totals")
    days = []
    for day, total in sorted(totals.items()):
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise InvalidEvent(f"day total {total!r} is not a count")
        days.append({"date": _day(day), "total": total})
    return Draft("circonscription_over_capacity", recipient, "", {
        **_common(data, base_url), "start_date": _day(data.get("start_date")), "end_date": _day(data.get("end_date")),
        "day_totals": days, "late": data.get("late") is True})


def _day(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidEvent(f"{value!r} is not an ISO 8601 date") from None


def _moment(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidEvent(f"{value!r} is not an ISO 8601 date and time") from None


def _hhmm(value: Any) -> str:
    text = str(value or "")
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"{value!r} is not a time") from None
    return f"{moment.hour} h {moment.minute:02d}"
