"""fiche-svc's public HTTP API: searching fiches by commune and reading one. No token: this is the public site."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from fiche.projection.domain.publication import today
from fiche.search import queries
from services.text import commune_key
from services.validators import is_digits, is_insee_code
from services.web import ApiError

bp = Blueprint("fiche", __name__, url_prefix="/api")

PER_PAGE_DEFAULT, PER_PAGE_MAX = 20, 50
PAGE_MAX = 10_000  # beyond any commune's fiches; bounds the OFFSET a client can ask for
QUERY_MAX = 100
_FICHE_ID = re.compile(r"^[0-9a-f]{32}$")


def _session():
    return current_app.extensions["fiche"].session_factory()


def _integer(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not is_digits(raw) or not low <= int(raw) <= high:
        raise ApiError(400, f"invalid_{name}", f"« {name} » doit être un nombre entier entre {low} et {high}.")
    return int(raw)


def _query(required: bool, whole_postcode: bool) -> str | None:
    """`q`: a commune's name (2 letters at least once accents and punctuation are set aside) or a postcode (its
    first digits are enough for autocomplete)."""
    query = (request.args.get("q") or "").strip()
    if not query:
        if required:
            raise ApiError(400, "missing_query", "Saisissez le nom ou le code postal d'une commune.")
        return None
    if len(query) > QUERY_MAX:
        raise ApiError(400, "invalid_query", f"La recherche ne peut dépasser {QUERY_MAX} caractères.")
    if is_digits(query):
        if len(query) > 5 or len(query) < (5 if whole_postcode else 2):
            raise ApiError(400, "invalid_postcode", "Un code postal compte 5 chiffres.")
    elif len(commune_key(query)) < 2:
        raise ApiError(400, "invalid_query", "Saisissez au moins 2 lettres du nom de la commune.")
    return query


@bp.get("/fiches")
def search_fiches():
    """Fiches of one commune, by INSEE code (`commune`) and/or name or postcode (`q`), by last name, paged."""
    insee_code = (request.args.get("commune") or "").strip().upper() or None
    if insee_code is not None and not is_insee_code(insee_code):
        raise ApiError(400, "invalid_commune", "Le code INSEE d'une commune compte 5 caractères (ex. 28085).")
    query = _query(required=insee_code is None, whole_postcode=True)
    page = _integer("page", 1, 1, PAGE_MAX)
    per_page = _integer("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
    with _session() as session:
        result = queries.search(session, insee_code=insee_code, query=query, on=today(), page=page,
                              per_page=per_page)
    return jsonify(result)


@bp.get("/fiches/<fiche_id>")
def get_fiche(fiche_id: str):
    fiche = None
    if _FICHE_ID.match(fiche_id):
        with _session() as session:
            fiche = queries.get_public_fiche(session, fiche_id, today())
    if fiche is None:
        raise ApiError(404, "fiche_not_found", "Cette fiche n'existe pas ou n'est plus publiée.")
    return jsonify(fiche)


@bp.get("/communes-with-fiches")
def communes_with_fiches():
    """Autocomplete: communes that have public fiches, by the start of their name or postcode."""
    query = _query(required=True, whole_postcode=False)
    limit = _integer("limit", 10, 1, PER_PAGE_MAX)
    with _session() as session:
        found = queries.communes_with_fiches(session, query, today(), limit)
    return jsonify(communes=found)
