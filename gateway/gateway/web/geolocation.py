"""Geolocation pages (issue 9): the assmat's correction request in the espace pro, and support's review in the
espace PMI. geo-svc decides everything (link parsing, checks, who may decide); these pages show its answers, its
refusals next to the field they concern, and keep what was typed.

| GET/POST /espace-pro/geolocalisation                               | assmat: her pin, her requests, the form |
| GET      /espace-pmi/geolocalisation                               | support: pending requests, review queue |
| GET      /espace-pmi/geolocalisation/demandes/<id>                 | support: the proposal beside the pin |
| POST     /espace-pmi/geolocalisation/demandes/<id>/decision        | support: accept or refuse |
| POST     /espace-pmi/geolocalisation/lieux/<place_id>/confirmer    | support: keep a weak result |
"""
from __future__ import annotations

import logging
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.errors import error_page
from gateway.web.forms import Form
from gateway.web.geolocation_map import static_map

log = logging.getLogger("gateway.geolocation")

bp = Blueprint("geolocation", __name__)

REQUEST_FIELDS = ("link", "comment")
DECISION_FIELDS = ("decision", "reason")
SUPPORT_ROLES = ("support", "admin")
STAFF_ROLES = ("pmi_agent", "pmi_central", "support", "admin")
PRECISION_LABELS = {"housenumber": "au numéro", "street": "à la rue", "locality": "au lieu-dit",
                    "municipality": "au centre de la commune"}
STATUS_LABELS = {"pending": "en cours d'examen", "accepted": "acceptée", "refused": "refusée",
                 "withdrawn": "remplacée par une demande plus récente"}
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _geo():
    return current().clients.geo


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _labels():
    return {"precision_labels": PRECISION_LABELS, "correction_status_labels": STATUS_LABELS}


# --- the assmat ---------------------------------------------------------------------------------------------------

def _own_page(form: Form, status: int = 200):
    geolocation, unavailable = None, None
    try:
        geolocation = _geo().my_geolocation(browser.access_token())
    except DownstreamError as error:
        unavailable = error.message
    return render_template("geo/pro_geolocation.html", form=form, geolocation=geolocation,
                           unavailable=unavailable), status


@bp.route("/espace-pro/geolocalisation", methods=["GET", "POST"])
@browser.login_required
def own_geolocation():
    account = browser.current_account()
    if account.get("role") in STAFF_ROLES:
        return redirect(url_for("geolocation.support_home"), 303)
    if account.get("role") != "assmat":
        return error_page(403, "La correction de géolocalisation concerne le lieu d'accueil d'un·e assistant·e "
                               "maternel·le. Pour une MAM, contactez votre service de PMI.")
    if request.method == "GET":
        return _own_page(Form(REQUEST_FIELDS, {}))
    form = Form(REQUEST_FIELDS, request.form)
    if not form["link"]:
        form.error("link", "Collez le lien de la carte centrée sur votre lieu d'accueil.")
    elif len(form["link"]) > 2000:
        form.error("link", "Ce lien est trop long pour être un lien de carte.")
    if len(form["comment"]) > 500:
        form.error("comment", "Le commentaire dépasse 500 caractères.")
    if form.ok:
        try:
            _geo().request_correction(browser.access_token(), form["link"], form["comment"])
        except DownstreamError as error:
            form.refusal(error, {"comment": "comment"})
        else:
            flash("Votre demande de correction est enregistrée. Le support la vérifiera et vous recevrez un e-mail "
                  "lorsqu'elle sera traitée.", "success")
            return redirect(url_for("geolocation.own_geolocation"), 303)
    return _own_page(form, 400)


# --- support ------------------------------------------------------------------------------------------------------

def may_review(account: dict | None) -> bool:
    """Whether this session's account opens support's review (the staff home shows its link by the same rule)."""
    if not account or account.get("role") not in STAFF_ROLES:
        return False
    return bool(set(account.get("roles") or [account.get("role")]) & set(SUPPORT_ROLES))


def _support():
    """The logged-in staff account if it may review; else a response (login page, or 403)."""
    account = browser.current_account()
    if not account or account.get("role") not in STAFF_ROLES:
        return None, redirect(url_for("staff.login"), 303)
    if not may_review(account):
        return None, error_page(403, "La vérification des géolocalisations est réservée au support.")
    return account, None


def _staff_token():
    try:
        return browser.access_token(), None
    except browser.LoginRequired:
        return None, redirect(url_for("staff.login"), 303)


@bp.get("/espace-pmi/geolocalisation")
def support_home():
    _account, refusal = _support()
    if refusal:
        return refusal
    token, refusal = _staff_token()
    if refusal:
        return refusal
    pending = _geo().corrections(token, "pending")["corrections"]
    queue = _geo().review_places(token)["places"]
    return render_template("geo/support_home.html", pending=pending, queue=queue)


def _correction_page(correction_id: str, form: Form, status: int = 200):
    token, refusal = _staff_token()
    if refusal:
        return refusal
    try:
        correction = _geo().correction(token, correction_id)
    except DownstreamError as error:
        if error.status == 404:
            return error_page(404, error.message)
        raise
    place = correction.get("place") or {}
    points = [(place.get("commune_latitude"), place.get("commune_longitude"), "Mairie", "commune"),
              (place.get("latitude"), place.get("longitude"), "Position actuelle", "current"),
              (correction["latitude"], correction["longitude"], "Proposition", "proposal")]
    return render_template("geo/support_correction.html", correction=correction, place=place, form=form,
                           map=static_map(points, correction.get("tile_url"))), status


@bp.get("/espace-pmi/geolocalisation/demandes/<correction_id>")
def support_correction(correction_id: str):
    _account, refusal = _support()
    if refusal:
        return refusal
    if not _ID.match(correction_id):
        return error_page(404, "Demande de correction inconnue.")
    return _correction_page(correction_id, Form(DECISION_FIELDS, {}))


@bp.post("/espace-pmi/geolocalisation/demandes/<correction_id>/decision")
def support_decide(correction_id: str):
    _account, refusal = _support()
    if refusal:
        return refusal
    if not _ID.match(correction_id):
        return error_page(404, "Demande de correction inconnue.")
    form = Form(DECISION_FIELDS, request.form)
    if form["decision"] not in ("accept", "refuse"):
        form.error("decision", "Choisissez d'accepter ou de refuser la demande.")
    elif form["decision"] == "refuse" and not form["reason"]:
        form.error("reason", "Indiquez le motif du refus : il est envoyé à l'assistant·e maternel·le.")
    if len(form["reason"]) > 500:
        form.error("reason", "Le motif dépasse 500 caractères.")
    if form.ok:
        token, refusal = _staff_token()
        if refusal:
            return refusal
        try:
            _geo().decide_correction(token, correction_id, form["decision"], form["reason"])
        except DownstreamError as error:
            if error.status == 404:
                return error_page(404, error.message)
            form.refusal(error, {"reason": "reason", "decision": "decision", "already": "decision"})
        else:
            flash("Demande acceptée : le repère est déplacé." if form["decision"] == "accept"
                  else "Demande refusée : l'assistant·e maternel·le en est informé·e.", "success")
            return redirect(url_for("geolocation.support_home"), 303)
    return _correction_page(correction_id, form, 400)


@bp.post("/espace-pmi/geolocalisation/lieux/<place_id>/confirmer")
def support_confirm(place_id: str):
    _account, refusal = _support()
    if refusal:
        return refusal
    if not _ID.match(place_id):
        return error_page(404, "Lieu d'exercice inconnu.")
    token, refusal = _staff_token()
    if refusal:
        return refusal
    try:
        _geo().confirm_place(token, place_id)
    except DownstreamError as error:
        return error_page(error.status if error.status in (403, 404) else 400, error.message)
    flash("Position conservée : le lieu sort de la file de vérification.", "success")
    return redirect(url_for("geolocation.support_home"), 303)
