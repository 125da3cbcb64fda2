"""The entries of a commune's list, from the agréments (scoped to the staff's circonscriptions)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from agrement.adapters.orm import agrements
from agrement.mairie_lists.domain import LISTED_STATUSES, Entry, Mairie
from services.communes import get_commune


def mairie_of(insee_code: str) -> Mairie | None:
    commune = get_commune(insee_code)
    if commune is None:
        return None
    return Mairie(commune.insee_code, commune.name, commune.mairie_address, commune.mairie_phone,
                  commune.mairie_email)


def entries(session, insee_code: str, today: dt.date, circonscriptions: tuple[str, ...] | None) -> list[Entry]:
    query = (sa.select(agrements).where(agrements.c.commune_insee == insee_code,
                                        agrements.c.status.in_(LISTED_STATUSES),
                                        agrements.c.validity_end >= today)
             .order_by(agrements.c.last_name, agrements.c.first_name, agrements.c.pmi_number))
    if circonscriptions is not None:
        query = query.where(agrements.c.circonscription.in_(circonscriptions or ("",)))
    found = []
    for row in session.execute(query).mappings():
        address = row["address_line"] + (f", {row['address_complement']}" if row["address_complement"] else "")
        if row["mam_name"]:
            address = f"MAM {row['mam_name']}, {address}"
        found.append(Entry(row["last_name"], row["first_name"], address, row["postcode"], row["phone"],
                           row["capacity_total"], row["capacity_under_3"], row["place_type"], row["status"],
                           row["validity_end"]))
    return found
