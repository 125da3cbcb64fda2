"""GET /api/agrements/me: the assmat reads her own agrément."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from agrement.my_agrement.queries import history, own_agrement
from services.auth import require_token
from services.web import ApiError

bp = Blueprint("my_agrement", __name__, url_prefix="/api")


def _container():
    return current_app.extensions["agrement"]


@bp.get("/agrements/me")
@require_token(lambda: _container().verifier, roles=("assmat",))
def my_agrement():
    pmi_number = g.principal.claims.get("pmi_number")
    if not pmi_number:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    with _container().session_factory() as session:
        body = own_agrement(session, str(pmi_number))
    if body is None:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.")
    return jsonify(body)


@bp.get("/agrements/me/history")
@require_token(lambda: _container().verifier, roles=("assmat",))
def my_history():
    pmi_number = g.principal.claims.get("pmi_number")
    if not pmi_number:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    with _container().session_factory() as session:
        return jsonify({"history": history(session, str(pmi_number))})
