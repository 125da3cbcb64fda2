"""The assmat's Agrément tab (read only, with its history) and "Signaler un changement de situation".

agrement-svc decides what a valid report is (R421-41's 15 days, attachments checked by their content); this page
catches what is plainly malformed before the round trip and shows the service's refusals beside their fields.
"""
from __future__ import annotations

import base64
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.web.forms import DATE_PART, Form

bp = Blueprint("agrement_tab", __name__, url_prefix="/espace-pro")

KINDS = (("moving", "Déménagement"), ("household", "Changement dans le foyer"),
         ("housing", "Changement de logement"), ("temporary_stop", "Arrêt temporaire d'activité"),
         ("resumption", "Reprise d'activité"), ("end_of_activity", "Fin d'activité"), ("other", "Autre changement"))
REPORT_FIELDS = ("kind", "moving_date", "moving_date_day", "moving_date_month", "moving_date_year",
                 "new_address_line", "new_postcode", "new_commune", "effective_date", "effective_date_day",
                 "effective_date_month", "effective_date_year", "text", "attachments")
MAX_ATTACHMENTS = 3
# A report's form carries files: room for 3 attachments of agrement-svc's default 1 MB over the site's form limit.
REPORT_MAX_BYTES = 256 * 1024 + MAX_ATTACHMENTS * 1_000_000


@bp.before_app_request
def _room_for_attachments():
    # Runs before the site's input checks (registered earlier), which read the form: the larger limit must be set
    # before anything parses this one form's body.
    if request.endpoint == "agrement_tab.reports" and request.method == "POST":
        request.max_content_length = REPORT_MAX_BYTES


def _assmat_only():
    account = browser.current_account()
    if account.get("role") != "assmat":
        return redirect(url_for("pro.home"), 303)
    return None


@bp.get("/agrement")
@browser.login_required
def show():
    refused = _assmat_only()
    if refused:
        return refused
    token = browser.access_token()
    agrement, history, problem = None, [], None
    try:
        agrement = current().clients.agrement.my_agrement(token)
        history = current().clients.agrement.my_history(token).get("history", [])
    except DownstreamError as error:
        problem = error.message
    return render_template("pro/agrement.html", account=browser.current_account(), agrement=agrement,
                           history=history, problem=problem)


def _date(form: Form, name: str, label: str) -> str | None:
    parts = [form[f"{name}_{part}"] for part in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        if not all(DATE_PART.fullmatch(part) for part in parts) or len(parts[2]) != 4:
            raise ValueError(parts)
        return date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
    except ValueError:
        form.error(name, f"{label} doit être une date réelle, par exemple 15 9 2027.")
        return None


def _attachments(form: Form) -> list[dict]:
    files = [item for item in request.files.getlist("attachments") if item and item.filename]
    if len(files) > MAX_ATTACHMENTS:
        form.error("attachments", f"Joignez au plus {MAX_ATTACHMENTS} fichiers.")
        return []
    return [{"file_name": item.filename, "content": base64.b64encode(item.read()).decode("ascii")}
            for item in files]


def _reports_page(form: Form, status: int = 200):
    reports = []
    try:
        reports = current().clients.agrement.my_reports(browser.access_token()).get("reports", [])
    except DownstreamError:
        pass  # the form stays usable; the list of past reports is a convenience
    return render_template("pro/reports.html", account=browser.current_account(), form=form, kinds=KINDS,
                           reports=reports), status


@bp.route("/signalements", methods=["GET", "POST"])
@browser.login_required
def reports():
    refused = _assmat_only()
    if refused:
        return refused
    if request.method == "GET":
        return _reports_page(Form(REPORT_FIELDS, {}))
    form = Form(REPORT_FIELDS, request.form)
    if form["kind"] not in dict(KINDS):
        form.error("kind", "Choisissez le type de changement à signaler.")
    body = {"kind": form["kind"], "text": form["text"]}
    if form["kind"] == "moving":
        body.update(moving_date=_date(form, "moving_date", "La date d'emménagement"),
                    new_address_line=form["new_address_line"], new_postcode=form["new_postcode"],
                    new_commune=form["new_commune"])
        if body["moving_date"] is None and "moving_date" not in form.errors:
            form.error("moving_date", "Indiquez la date d'emménagement.")
    elif form["kind"] in ("temporary_stop", "resumption", "end_of_activity"):
        body["effective_date"] = _date(form, "effective_date", "La date")
    body["attachments"] = _attachments(form)
    if form.ok:
        try:
            current().clients.agrement.submit_report(browser.access_token(), body)
        except DownstreamError as error:
            for name, message in (error.fields or {"kind": error.message}).items():
                form.error(name if name in REPORT_FIELDS else "kind", message)
        else:
            flash("Votre signalement est envoyé à votre circonscription de PMI. Vous recevrez un e-mail à chaque "
                  "étape de son traitement.", "success")
            return redirect(url_for("agrement_tab.reports"), 303)
    return _reports_page(form, 400)
