"""GET /api/backoffice/oppositions and /declarations: the back office's lists, in the staff's circonscriptions."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from agrement.backoffice import declarations
from agrement.backoffice.queries import oppositions
from agrement.backoffice.scope import BACKOFFICE_ROLES, circonscriptions_of
from services.auth import require_token

bp = Blueprint("backoffice", __name__, url_prefix="/api/backoffice")


def _container():
    return current_app.extensions["agrement"]


@bp.get("/oppositions")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def list_oppositions():
    with _container().session_factory() as session:
        return jsonify({"agrements": oppositions(session, circonscriptions_of(g.principal))})


@bp.get("/declarations")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def list_declarations():
    with _container().session_factory() as session:
        return jsonify({"declarations": declarations.flagged(session, circonscriptions_of(g.principal))})
