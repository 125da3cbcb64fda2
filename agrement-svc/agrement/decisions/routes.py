"""The back office's API on agréments: read one with its history, take a decision (scoped by circonscription)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from agrement.backoffice.scope import BACKOFFICE_ROLES, actor_of, may_see, require_scope
from agrement.decisions.commands import apply_decision
from agrement.decisions.domain import DecisionRefused
from agrement.my_agrement.queries import history, own_agrement
from services.auth import require_token
from services.db import UnitOfWork
from services.validators import parse_pmi_number
from services.web import ApiError

bp = Blueprint("decisions", __name__, url_prefix="/api/backoffice")


def _container():
    return current_app.extensions["agrement"]


def _pmi_number(raw: str) -> str:
    try:
        return parse_pmi_number(raw)
    except ValueError:
        raise ApiError(404, "not_found", "Agrément introuvable dans votre circonscription.") from None


@bp.get("/agrements/<pmi_number>")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def show(pmi_number: str):
    pmi_number = _pmi_number(pmi_number)
    with _container().session_factory() as session:
        body = own_agrement(session, pmi_number)
        require_scope(g.principal, body and body["circonscription"])
        body["history"] = history(session, pmi_number)
    return jsonify(body)


@bp.post("/agrements/<pmi_number>/decisions")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def take_decision(pmi_number: str):
    pmi_number = _pmi_number(pmi_number)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise ApiError(400, "invalid_body", "Indiquez la décision (action) dans un objet JSON.")
    principal = g.principal
    try:
        with UnitOfWork(_container().session_factory) as uow:
            result = apply_decision(uow, pmi_number, body["action"], body, actor=actor_of(principal),
                                    allowed=lambda name: may_see(principal, name))
            uow.commit()
    except DecisionRefused as refused:
        raise ApiError(400, "invalid_decision", next(iter(refused.errors.values())),
                       {"fields": refused.errors}) from None
    return jsonify({**result, "changes": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                          for k, v in result["changes"].items()}})
