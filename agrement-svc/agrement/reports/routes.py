"""The reports' API: the assmat submits and follows hers; the back office lists, reads and moves them on (scoped)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, g, jsonify, request

from agrement.backoffice.scope import BACKOFFICE_ROLES, circonscriptions_of, may_see, require_scope
from agrement.reports import queries
from agrement.reports.commands import move_report, submit_report
from agrement.reports.domain import STATUS_LABELS, ReportRefused, check_report, decode_attachments
from services.auth import require_token
from services.db import UnitOfWork
from services.web import ApiError

bp = Blueprint("reports", __name__, url_prefix="/api")


def _container():
    return current_app.extensions["agrement"]


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "Le corps de la requête doit être un objet JSON.")
    return body


def _own_pmi_number() -> str:
    pmi_number = g.principal.claims.get("pmi_number")
    if not pmi_number:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    return str(pmi_number)


@bp.post("/reports")
@require_token(lambda: _container().verifier, roles=("assmat",))
def submit():
    pmi_number = _own_pmi_number()
    body = _json_body()
    # Only the holder reports on her agrément: a body naming another one is refused, never silently redirected.
    if body.get("pmi_number") not in (None, pmi_number):
        raise ApiError(403, "not_holder", "Seul·e le ou la titulaire de l'agrément peut signaler un changement.")
    container = _container()
    attachments, problem = decode_attachments(body.get("attachments"),
                                              container.settings.report_attachment_max_bytes)
    try:
        report = check_report(body, attachments, dt.date.today())
    except ReportRefused as refused:
        errors = dict(refused.errors)
        if problem:
            errors["attachments"] = problem
        raise ApiError(400, "invalid_report", next(iter(errors.values())), {"fields": errors}) from None
    if problem:
        raise ApiError(400, "invalid_report", problem, {"fields": {"attachments": problem}})
    with UnitOfWork(container.session_factory) as uow:
        row = submit_report(uow, pmi_number, report)
        uow.commit()
    with container.session_factory() as session:
        return jsonify(queries.one_report(session, row["id"])), 201


@bp.get("/reports/mine")
@require_token(lambda: _container().verifier, roles=("assmat",))
def mine():
    with _container().session_factory() as session:
        return jsonify({"reports": queries.own_reports(session, _own_pmi_number())})


@bp.get("/backoffice/reports")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def backoffice_list():
    status = request.args.get("status") or None
    if status is not None and status not in STATUS_LABELS:
        raise ApiError(400, "invalid_status", "Statut de signalement inconnu.")
    with _container().session_factory() as session:
        return jsonify({"reports": queries.backoffice_reports(session, circonscriptions_of(g.principal), status)})


@bp.get("/backoffice/reports/<report_id>")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def backoffice_one(report_id: str):
    with _container().session_factory() as session:
        report = queries.one_report(session, report_id)
    require_scope(g.principal, report and report["circonscription"])
    return jsonify(report)


@bp.get("/backoffice/reports/<report_id>/attachments/<attachment_id>")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def backoffice_attachment(report_id: str, attachment_id: str):
    with _container().session_factory() as session:
        report = queries.one_report(session, report_id)
        require_scope(g.principal, report and report["circonscription"])
        found = queries.attachment(session, report_id, attachment_id)
    if found is None:
        raise ApiError(404, "not_found", "Pièce jointe introuvable.")
    # Served as a download with the type its content was checked to be, never rendered inline by guessing.
    return Response(found["content"], content_type=found["content_type"], headers={
        "Content-Disposition": f'attachment; filename="{found["id"]}"', "X-Content-Type-Options": "nosniff"})


@bp.post("/backoffice/reports/<report_id>/status")
@require_token(lambda: _container().verifier, roles=BACKOFFICE_ROLES)
def backoffice_move(report_id: str):
    body = _json_body()
    target, message = body.get("status"), body.get("message") or ""
    if not isinstance(target, str) or not isinstance(message, str):
        raise ApiError(400, "invalid_body", "Indiquez l'étape (status) et, pour un refus, un message.")
    principal = g.principal
    with UnitOfWork(_container().session_factory) as uow:
        move_report(uow, report_id, target, message, lambda name: may_see(principal, name))
        uow.commit()
    with _container().session_factory() as session:
        return jsonify(queries.one_report(session, report_id))
