"""The PMI staff's space: login with e-mail, password and TOTP code, a minimal home saying who is logged in and
with which roles (the back office is issue 7), logout.

Staff sessions are the same browser sessions as the espace pro's (gateway.browser); what tells them apart is the
account's role. A staff account never logs in through the espace pro's form (identity refuses it there).
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError, ServiceUnavailable
from gateway.web import backoffice, geolocation, security
from gateway.web.forms import Form

log = logging.getLogger("gateway.staff")

bp = Blueprint("staff", __name__, url_prefix="/espace-pmi")

LOGIN_FIELDS = ("email", "password", "totp")
STAFF_ROLES = ("pmi_agent", "pmi_central", "support", "admin")
ROLE_LABELS = {"pmi_agent": "Agent de circonscription", "pmi_central": "PMI centrale", "support": "Support",
               "admin": "Administration"}


def _identity():
    return current().clients.identity


# The staff home's links: each with the rule of the page it opens, so a role never sees a link to a page that would
# refuse it (the back office: agents and the central PMI; geolocation review: support and admin; the defences'
# summary: support, admin and the central PMI). An endpoint missing from this build is left out.
HOME_LINKS = (
    ("backoffice.reports", "Signalements", backoffice.may_open),
    ("backoffice.declarations", "Déclarations signalées", backoffice.may_open),
    ("backoffice.find_agrement", "Agréments", backoffice.may_open),
    ("backoffice.oppositions", "Oppositions à la publication", backoffice.may_open),
    ("backoffice.mairie_lists", "Listes pour les mairies", backoffice.may_open),
    ("geolocation.support_home", "Géolocalisation", geolocation.may_review),
    ("security.security", "Sécurité", security.may_open),
)


def home_links(account: dict | None, endpoints) -> list[tuple[str, str]]:
    return [(endpoint, label) for endpoint, label, may_open in HOME_LINKS
            if endpoint in endpoints and may_open(account)]


def _staff_account() -> dict | None:
    account = browser.current_account()
    return account if account and account.get("role") in STAFF_ROLES else None


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("staff/login.html", form=Form(LOGIN_FIELDS, {}, secret=("password", "totp")))
    form = Form(LOGIN_FIELDS, request.form, secret=("password", "totp"))
    if not form["email"]:
        form.error("email", "Saisissez votre adresse e-mail professionnelle.")
    if not form["password"]:
        form.error("password", "Saisissez votre mot de passe.")
    code = form["totp"].replace(" ", "")
    if not code:
        form.error("totp", "Saisissez le code à 6 chiffres de votre application d'authentification.")
    elif len(code) != 6 or not code.isascii() or not code.isdigit():
        form.error("totp", "Le code de vérification comporte 6 chiffres.")
    if form.ok:
        try:
            answer = _identity().staff_login(form["email"], form["password"], code)
        except DownstreamError as error:
            form.refusal(error, {"staff_login": "password", "disabled": "email"})
        else:
            browser.start_session(answer)
            return redirect(url_for("staff.home"), 303)
    return render_template("staff/login.html", form=form), 400


@bp.get("")
def home():
    if _staff_account() is None:
        return redirect(url_for("staff.login"), 303)
    try:
        me = _identity().staff_me(browser.access_token())
    except browser.LoginRequired:
        return redirect(url_for("staff.login"), 303)
    except DownstreamError:
        browser.end_session()
        flash("Votre session a expiré. Reconnectez-vous pour continuer.", "info")
        return redirect(url_for("staff.login"), 303)
    links = home_links(browser.current_account(), current_app.view_functions)
    return render_template("staff/home.html", me=me, role_labels=ROLE_LABELS, links=links)


@bp.post("/deconnexion")
def logout():
    refresh_token = browser.end_session()
    if refresh_token:
        try:
            _identity().logout(refresh_token)
        except (DownstreamError, ServiceUnavailable) as error:
            log.warning("logout not recorded by identity", extra={"code": error.code})
    flash("Vous êtes déconnecté·e.", "success")
    return redirect(url_for("staff.login"), 303)
