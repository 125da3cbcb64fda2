"""GET /api/backoffice/mairie-lists/<insee>.csv and .pdf: a commune's list for its mairie (CASF L421-8)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, g

from agrement.backoffice.scope import BACKOFFICE_ROLES, circonscriptions_of
from agrement.mairie_lists import queries
from agrement.mairie_lists.domain import to_csv
from agrement.mairie_lists.pdf import render_pdf
from services.auth import require_token
from services.web import ApiError

bp = Blueprint("mairie_lists", __name__, url_prefix="/api/backoffice")


def _container():
    return current_app.extensions["agrement"]


@bp.get("/mairie-lists/<insee_code>.<kind>")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def mairie_list(insee_code: str, kind: str):
    if kind not in ("csv", "pdf"):
        raise ApiError(404, "not_found", "Format inconnu : csv ou pdf.")
    mairie = queries.mairie_of(insee_code) if len(insee_code) == 5 and insee_code.isascii() else None
    if mairie is None:
        raise ApiError(404, "commune_not_found", "Commune inconnue (code INSEE à 5 caractères, par exemple 28085).")
    today = dt.date.today()
    with _container().session_factory() as session:
        found = queries.entries(session, insee_code, today, circonscriptions_of(g.principal))
    name = f"liste-assmats-{insee_code}-{today.isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        # With a BOM: the spreadsheets French mairies use then read the accents right.
        return Response("\ufeff" + to_csv(mairie, found, today), content_type="text/csv; charset=utf-8",
                        headers=headers)
    return Response(render_pdf(mairie, found, today), content_type="application/pdf", headers=headers)
