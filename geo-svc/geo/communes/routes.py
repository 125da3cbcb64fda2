"""GET /api/communes (autocomplete) and GET /api/communes/<insee>."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from geo.communes import queries
from services.web import ApiError

bp = Blueprint("communes", __name__, url_prefix="/api")


def _session():
    return current_app.extensions["geo"].session_factory()


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
    with _session() as session:
        found = queries.search_communes(session, query, request.args.get("departement"), limit)
    return jsonify(communes=found)


@bp.get("/communes/<insee_code>")
def get_commune(insee_code: str):
    with _session() as session:
        commune = queries.get_commune(session, insee_code)
    if commune is None:
        raise ApiError(404, "commune_not_found", f"Commune {insee_code} inconnue.")
    return jsonify(commune)
