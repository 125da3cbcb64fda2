"""The assmat's own children: `/api/own-children`."""
from __future__ import annotations

from flask import Blueprint, jsonify

from agrement.contracts.commands import NotFound, local_day, now
from agrement.contracts.domain import Invalid
from agrement.contracts.routes import _container, _verifier, pmi_number, refused
from agrement.own_children.commands import add_own_child, remove_own_child
from agrement.own_children.queries import list_own_children
from services.auth import require_token
from services.web import ApiError, json_body

bp = Blueprint("own_children", __name__, url_prefix="/api")


@bp.get("/own-children")
@require_token(_verifier, roles=("assmat",))
def list_children():
    with _container().session_factory() as session:
        return jsonify({"children": list_own_children(session, pmi_number(), local_day(now()))})


@bp.post("/own-children")
@require_token(_verifier, roles=("assmat",))
def add_child():
    payload = json_body()
    try:
        child_id = add_own_child(_container().session_factory, pmi_number(), payload)
    except Invalid as error:
        raise refused(error) from None
    except NotFound:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.") from None
    return jsonify({"id": child_id}), 201


@bp.delete("/own-children/<child_id>")
@require_token(_verifier, roles=("assmat",))
def remove_child(child_id):
    try:
        remove_own_child(_container().session_factory, pmi_number(), child_id)
    except NotFound:
        raise ApiError(404, "not_found", "Enfant introuvable.") from None
    return "", 204
