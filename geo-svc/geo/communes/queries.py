"""Read side of the communes reference: the autocomplete, and one commune."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo.adapters.orm import communes
from services.text import commune_key
from services.validators import is_digits


def _commune_json(row) -> dict:
    return {"insee_code": row["insee_code"], "name": row["name"], "departement_code": row["departement_code"],
            "postcodes": row["postcodes"].split(), "latitude": row["latitude"], "longitude": row["longitude"],
            "mairie": {"email": row["mairie_email"], "phone": row["mairie_phone"], "address": row["mairie_address"]}}


def search_communes(session: Session, query: str, departement: str | None, limit: int) -> list[dict]:
    """`query` is the start of a name (accents, case, hyphens and "Saint"/"St" folded) or of a postcode; most
    populated first."""
    statement = sa.select(communes)
    if is_digits(query):
        statement = statement.where(communes.c.postcodes.contains(query))
    else:
        folded = commune_key(query)
        statement = statement.where(communes.c.search_name.startswith(folded, autoescape=True))
    if departement:
        statement = statement.where(communes.c.departement_code == departement)
    statement = statement.order_by(communes.c.population.desc().nulls_last(), communes.c.name).limit(limit)
    return [_commune_json(row) for row in session.execute(statement).mappings().all()]


def get_commune(session: Session, insee_code: str) -> dict | None:
    row = session.execute(sa.select(communes).where(communes.c.insee_code == insee_code)).mappings().first()
    return _commune_json(row) if row is not None else None
