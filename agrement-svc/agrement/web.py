"""agrement-svc's HTTP API."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify

from agrement.adapters.orm import agrements
from services.auth import require_token
from services.communes import get_commune
from services.web import ApiError

bp = Blueprint("agrement", __name__, url_prefix="/api")

# What the assmat sees of her own agrément (the birth date is hers, but it is not shown back: no need).
_OWN_FIELDS = ("pmi_number", "civility", "first_name", "last_name", "birth_name", "email", "phone", "address_line",
               "address_complement", "postcode", "commune_insee", "circonscription", "capacity_total",
               "capacity_under_3", "validity_start", "validity_end", "status", "publication_opposed", "place_type",
               "mam_id", "mam_name")


def _container():
    return current_app.extensions["agrement"]


@bp.get("/agrements/me")
@require_token(lambda: _container().verifier, roles=("assmat",))
def my_agrement():
    pmi_number = g.principal.claims.get("pmi_number")
    if not pmi_number:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    with _container().session_factory() as session:
        row = session.execute(sa.select(agrements).where(agrements.c.pmi_number == str(pmi_number))) \
            .mappings().first()
    if row is None:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.")
    body = {name: row[name] for name in _OWN_FIELDS}
    for name in ("validity_start", "validity_end"):
        body[name] = row[name].isoformat()
    body["capacity_note"] = (row["record"] or {}).get("capacity_note")
    commune = get_commune(row["commune_insee"])
    body["commune_name"] = commune.name if commune else None
    return jsonify(body)
