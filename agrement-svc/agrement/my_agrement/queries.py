"""Read side: the agrément as its assmat sees it."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from agrement.adapters.orm import agrements
from services.communes import get_commune

# What the assmat sees of her own agrément (the birth date is hers, but it is not shown back: no need).
_OWN_FIELDS = ("pmi_number", "civility", "first_name", "last_name", "birth_name", "email", "phone", "address_line",
               "address_complement", "postcode", "commune_insee", "circonscription", "capacity_total",
               "capacity_under_3", "validity_start", "validity_end", "status", "publication_opposed", "publication_contact_hidden",
               "place_type", "mam_id", "mam_name")


def own_agrement(session: Session, pmi_number: str) -> dict | None:
    """The agrément of that PMI number as JSON-ready fields, with its commune's name; None when unknown."""
    row = session.execute(sa.select(agrements).where(agrements.c.pmi_number == pmi_number)).mappings().first()
    if row is None:
        return None
    body = {name: row[name] for name in _OWN_FIELDS}
    for name in ("validity_start", "validity_end"):
        body[name] = row[name].isoformat()
    body["capacity_note"] = (row["record"] or {}).get("capacity_note")
    commune = get_commune(row["commune_insee"])
    body["commune_name"] = commune.name if commune else None
    return body


def history(session: Session, pmi_number: str) -> list[dict]:
    """The agrément's history, newest first: each staff decision with what it changed and why; the first entry is
    its registration (from the PMI extract)."""
    from agrement.adapters.orm import agrement_history
    from agrement.decisions.domain import ACTION_LABELS
    rows = session.execute(sa.select(agrement_history).where(agrement_history.c.pmi_number == pmi_number)
                           .order_by(agrement_history.c.at.desc())).mappings().all()
    entries = [{"at": row["at"].isoformat(), "action": row["action"],
                "label": ACTION_LABELS.get(row["action"], row["action"]), "changes": row["changes"],
                "reason": row["reason"]} for row in rows]
    created = session.execute(sa.select(agrements.c.created_at).where(agrements.c.pmi_number == pmi_number)
                              ).scalar_one_or_none()
    if created is not None:
        # The day the portal first received it from the PMI's extract (the agrément's own start is its validity).
        entries.append({"at": created.isoformat(), "action": "registered",
                        "label": "Agrément reçu par le portail (extraction de la PMI)", "changes": {}, "reason": None})
    return entries
