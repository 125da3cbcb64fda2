"""The week as the capacity engine sees it (`/api/capacity/week`) and exceptional over-capacity
(`/api/over-capacity`)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from agrement.capacity.commands import declare_over_capacity
from agrement.capacity.queries import situation, week
from agrement.contracts.commands import NotFound, local_day, now
from agrement.contracts.domain import Invalid
from agrement.contracts.queries import list_over_capacity
from agrement.contracts.routes import _container, _verifier, pmi_number, refused
from services.auth import require_token
from services.web import ApiError, json_body

bp = Blueprint("capacity", __name__, url_prefix="/api")


@bp.get("/capacity/week")
@require_token(_verifier, roles=("assmat",))
def capacity_week():
    raw = request.args.get("from")
    try:
        today = local_day(now())
        start = dt.date.fromisoformat(raw) if raw else today - dt.timedelta(days=today.weekday())  # this Monday
    except ValueError:
        raise ApiError(400, "invalid_date", "La date de début de semaine doit s'écrire AAAA-MM-JJ.") from None
    with _container().session_factory() as session:
        found = situation(session, pmi_number())
    if found is None:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.")
    return jsonify({"from": start.isoformat(), "places": found.limits.places,
                    "places_under_3": found.limits.places_under_3, "days": week(found, start)})


@bp.get("/over-capacity")
@require_token(_verifier, roles=("assmat",))
def list_declarations():
    with _container().session_factory() as session:
        return jsonify({"declarations": list_over_capacity(session, pmi_number())})


@bp.post("/over-capacity/check")
@require_token(_verifier, roles=("assmat",))
def check():
    return _declare(dry_run=True), 200


@bp.post("/over-capacity")
@require_token(_verifier, roles=("assmat",))
def declare():
    return _declare(dry_run=False), 201


def _declare(dry_run: bool):
    payload = json_body()
    try:
        body = declare_over_capacity(_container().session_factory, pmi_number(), payload, dry_run=dry_run)
    except Invalid as error:
        raise refused(error) from None
    except NotFound:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.") from None
    return jsonify(body)
