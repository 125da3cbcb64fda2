"""geo-svc's HTTP API (read only for now)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from geo.adapters.orm import communes, places
from services.text import commune_key
from services.validators import is_digits
from services.web import ApiError

bp = Blueprint("geo", __name__, url_prefix="/api")


def _session():
    return current_app.extensions["geo"].session_factory()


def _commune_json(row) -> dict:
    return {"insee_code": row["insee_code"], "name": row["name"], "departement_code": row["departement_code"],
            "postcodes": row["postcodes"].split(), "latitude": row["latitude"], "longitude": row["longitude"]}


@bp.get("/communes")
def search_communes():
    """Autocomplete: `q` is the start of a name or of a postcode; `departement` narrows it."""
    query = (request.args.get("q") or "").strip()
    if len(query) < 2 or len(query) > 100:
        raise ApiError(400, "invalid_query", "Saisissez au moins 2 caractères du nom ou du code postal.")
    try:
        limit = min(max(int(request.args.get("limit", 10)), 1), 50)
    except ValueError:
        raise ApiError(400, "invalid_limit", "« limit » doit être un nombre entier.") from None
    statement = sa.select(communes)
    if is_digits(query):
        statement = statement.where(communes.c.postcodes.contains(query))
    else:
        folded = commune_key(query)
        statement = statement.where(communes.c.search_name.startswith(folded, autoescape=True))
    if request.args.get("departement"):
        statement = statement.where(communes.c.departement_code == request.args["departement"])
    statement = statement.order_by(communes.c.population.desc().nulls_last(), communes.c.name).limit(limit)
    with _session() as session:
        rows = session.execute(statement).mappings().all()
    return jsonify(communes=[_commune_json(row) for row in rows])


@bp.get("/communes/<insee_code>")
def get_commune(insee_code: str):
    with _session() as session:
        row = session.execute(sa.select(communes).where(communes.c.insee_code == insee_code)).mappings().first()
    if row is None:
        raise ApiError(404, "commune_not_found", f"Commune {insee_code} inconnue.")
    return jsonify(_commune_json(row))


@bp.get("/places/<place_id>")
def get_place(place_id: str):
    with _session() as session:
        row = session.execute(sa.select(places).where(places.c.place_id == place_id)).mappings().first()
    if row is None:
        raise ApiError(404, "place_not_found", "Lieu d'exercice inconnu.")
    return jsonify({key: row[key] for key in ("place_id", "commune_insee", "postcode", "latitude", "longitude",
                                              "precision", "score", "needs_review")})
