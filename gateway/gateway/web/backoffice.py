"""The PMI back office (under /espace-pmi): incoming reports of a change of situation and their workflow, and the
agréments with staff decisions (modify, suspend, withdraw, temporary stop, resumption) and their history.

Scoping is agrement-svc's: it answers from the staff token's circonscriptions (an agent sees hers; the central PMI
all). Another circonscription's report or agrément is "not found" here, as there.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.web.forms import Form
from services.validators import parse_pmi_number

bp = Blueprint("backoffice", __name__, url_prefix="/espace-pmi")

BACKOFFICE_ROLES = ("pmi_agent", "pmi_central")
STATUSES = (("received", "Reçus"), ("in_progress", "En cours"), ("processed", "Traités"), ("refused", "Refusés"))
MOVES = (("in_progress", "Prendre en charge"), ("processed", "Marquer traité"), ("refused", "Refuser"))
ACTIONS = (("temporary_stop", "Arrêt temporaire"), ("resume", "Reprise d'activité"), ("suspend", "Suspension"),
           ("withdraw", "Retrait"), ("modify", "Modification (capacité, fin de validité)"),
           ("publication", "Choix de publication sur le site (article D421-15)"))
PUBLICATION = (("published", "Publiée avec ses coordonnées"), ("opposed", "Opposée : retirée du site"),
               ("no_contact", "Publiée sans aucune coordonnée"))
MOVE_FIELDS = ("status", "message")
DECISION_FIELDS = ("action", "reason", "capacity_total", "capacity_under_3", "validity_end", "publication")


class NotStaff(Exception):
    pass


def may_open(account: dict | None) -> bool:
    """Whether this session's account opens the back office (the staff home shows its links by the same rule)."""
    return bool(account) and (account.get("role") in BACKOFFICE_ROLES
                              or bool(set(account.get("roles") or ()) & set(BACKOFFICE_ROLES)))


def _token() -> str:
    if not may_open(browser.current_account()):
        raise NotStaff()
    try:
        return browser.access_token()
    except browser.LoginRequired:
        raise NotStaff() from None


@bp.errorhandler(NotStaff)
def _to_staff_login(_error):
    return redirect(url_for("staff.login"), 303)


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _agrement_client():
    return current().clients.agrement


def _not_found_or_raise(error: DownstreamError):
    if error.status == 404:
        abort(404)
    if error.status in (401, 403):
        raise NotStaff()
    raise error


@bp.get("/signalements")
def reports():
    token = _token()
    status = request.args.get("statut") or None
    if status is not None and status not in dict(STATUSES):
        status = None
    try:
        found = _agrement_client().backoffice_reports(token, status).get("reports", [])
    except DownstreamError as error:
        _not_found_or_raise(error)
    return render_template("backoffice/reports.html", reports=found, statuses=STATUSES, status=status)


def _report_page(token: str, report_id: str, form: Form, status: int = 200):
    try:
        report = _agrement_client().backoffice_report(token, report_id)
    except DownstreamError as error:
        _not_found_or_raise(error)
    return render_template("backoffice/report.html", report=report, form=form, moves=MOVES), status


@bp.route("/signalements/<report_id>", methods=["GET", "POST"])
def report(report_id: str):
    token = _token()
    if request.method == "GET":
        return _report_page(token, report_id, Form(MOVE_FIELDS, {}))
    form = Form(MOVE_FIELDS, request.form)
    if form["status"] not in dict(MOVES):
        form.error("status", "Choisissez l'étape suivante du signalement.")
    elif form["status"] == "refused" and not form["message"]:
        form.error("message", "Un refus s'accompagne d'un message qui en explique la raison.")
    if form.ok:
        try:
            _agrement_client().move_report(token, report_id, form["status"], form["message"])
        except DownstreamError as error:
            if error.status == 404:
                abort(404)
            for name, message in (error.fields or {"status": error.message}).items():
                form.error(name if name in MOVE_FIELDS else "status", message)
        else:
            flash("Le signalement a changé d'étape ; l'assistant·e maternel·le en est informé·e par e-mail.",
                  "success")
            return redirect(url_for("backoffice.report", report_id=report_id), 303)
    return _report_page(token, report_id, form, 400)


@bp.get("/signalements/<report_id>/pieces/<attachment_id>")
def attachment(report_id: str, attachment_id: str):
    token = _token()
    try:
        content, content_type = _agrement_client().backoffice_attachment(token, report_id, attachment_id)
    except DownstreamError as error:
        _not_found_or_raise(error)
    return Response(content, content_type=content_type, headers={
        "Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"})


@bp.get("/agrements")
def find_agrement():
    _token()
    raw = request.args.get("numero", "")
    form = Form(("numero",), {"numero": raw})
    if raw:
        try:
            return redirect(url_for("backoffice.agrement", pmi_number=parse_pmi_number(raw, allow_spaces=True)), 303)
        except ValueError:
            form.error("numero", "Le numéro de dossier PMI comporte exactement 6 chiffres, par exemple 280153.")
    return render_template("backoffice/find.html", form=form), (400 if form.errors else 200)


def _agrement_page(token: str, pmi_number: str, form: Form, status: int = 200):
    try:
        agrement = _agrement_client().backoffice_agrement(token, pmi_number)
    except DownstreamError as error:
        _not_found_or_raise(error)
    return render_template("backoffice/agrement.html", agrement=agrement, form=form, actions=ACTIONS,
                           publication=PUBLICATION), status


@bp.route("/agrements/<pmi_number>", methods=["GET", "POST"])
def agrement(pmi_number: str):
    token = _token()
    if request.method == "GET":
        return _agrement_page(token, pmi_number, Form(DECISION_FIELDS, {}))
    form = Form(DECISION_FIELDS, request.form)
    if form["action"] not in dict(ACTIONS):
        form.error("action", "Choisissez une décision.")
    end = form["validity_end"]
    if end and "/" in end:   # typed as on paper: 31/08/2030
        try:
            day, month, year = (int(part) for part in end.split("/"))
            form.values["validity_end"] = date(year, month, day).isoformat()
        except ValueError:
            form.error("validity_end", "La date de fin de validité n'est pas valide (jj/mm/aaaa).")
    if form.ok:
        body = {name: form[name] for name in DECISION_FIELDS if form[name]}
        try:
            _agrement_client().decide(token, pmi_number, body)
        except DownstreamError as error:
            if error.status == 404:
                abort(404)
            for name, message in (error.fields or {"action": error.message}).items():
                form.error(name if name in DECISION_FIELDS else "action", message)
        else:
            flash("La décision est enregistrée ; elle figure dans l'historique de l'agrément.", "success")
            return redirect(url_for("backoffice.agrement", pmi_number=pmi_number), 303)
    return _agrement_page(token, pmi_number, form, 400)


@bp.get("/listes-mairies")
def mairie_lists():
    _token()
    raw = request.args.get("commune", "").strip()
    form = Form(("commune",), {"commune": raw})
    if raw and not (len(raw) == 5 and raw.isascii() and raw.isalnum()):
        form.error("commune", "Le code INSEE d'une commune comporte 5 caractères, par exemple 28085 pour Chartres.")
    return render_template("backoffice/mairie_lists.html", form=form,
                           commune=raw if raw and form.ok else None), (400 if form.errors else 200)


@bp.get("/listes-mairies/<insee_code>.<kind>")
def mairie_list(insee_code: str, kind: str):
    token = _token()
    if kind not in ("csv", "pdf"):
        abort(404)
    try:
        content, content_type, disposition = _agrement_client().mairie_list(token, insee_code, kind)
    except DownstreamError as error:
        _not_found_or_raise(error)
    return Response(content, content_type=content_type, headers={"Content-Disposition": disposition,
                                                                 "X-Content-Type-Options": "nosniff"})


@bp.get("/oppositions")
def oppositions():
    token = _token()
    try:
        found = _agrement_client().backoffice_oppositions(token).get("agrements", [])
    except DownstreamError as error:
        _not_found_or_raise(error)
    return render_template("backoffice/oppositions.html", agrements=found, labels=dict(PUBLICATION))


@bp.get("/declarations")
def declarations():
    token = _token()
    try:
        found = _agrement_client().backoffice_declarations(token).get("declarations", [])
    except DownstreamError as error:
        _not_found_or_raise(error)
    return render_template("backoffice/declarations.html", declarations=found)
