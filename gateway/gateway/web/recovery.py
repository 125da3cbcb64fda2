"""Forgotten password: ask for a link (e-mail + account type), then choose a new password through it.

The same pages give a MAM or an RPE its first password. Whether an account exists is never said: identity answers
the request the same way in every case, and so does this page.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.web.forms import Form

bp = Blueprint("recovery", __name__, url_prefix="/espace-pro/mot-de-passe-oublie")

REQUEST_FIELDS = ("email", "account_type")
PASSWORD_FIELDS = ("password", "password_confirmation")
SECRET = ("password", "password_confirmation")
ACCOUNT_TYPES = (("assmat", "Assistant·e maternel·le"), ("mam", "Maison d'assistants maternels (MAM)"),
                 ("rpe", "Relais petite enfance (RPE)"))


def _identity():
    return current().clients.identity


@bp.after_request
def _no_store(response):
    # The link's token is in the address of these pages: no cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("", methods=["GET", "POST"])
def request_reset():
    if request.method == "GET":
        chosen = request.args.get("type", "")
        return render_template("recovery/request.html", account_types=ACCOUNT_TYPES,
                               form=Form(REQUEST_FIELDS, {"account_type": chosen if chosen in dict(ACCOUNT_TYPES)
                                                          else ""}))
    form = Form(REQUEST_FIELDS, request.form)
    if not form["email"]:
        form.error("email", "Saisissez l'adresse e-mail de votre compte.")
    elif len(form["email"]) > 254 or "@" not in form["email"]:
        form.error("email", "L'adresse e-mail n'est pas valide, par exemple prenom.nom@exemple.fr.")
    if form["account_type"] not in dict(ACCOUNT_TYPES):
        form.values["account_type"] = ""
        form.error("account_type", "Choisissez le type de compte.")
    if form.ok:
        try:
            _identity().request_password_reset(form["email"], form["account_type"])
        except DownstreamError as error:
            form.refusal(error, {"email": "email", "account_type": "account_type"})
        else:
            return redirect(url_for("recovery.sent"), 303)
    return render_template("recovery/request.html", account_types=ACCOUNT_TYPES, form=form), 400


@bp.get("/envoye")
def sent():
    return render_template("recovery/sent.html")


def _link_error(error: DownstreamError):
    return render_template("recovery/link_error.html", error=error), 400 if error.status < 500 else error.status


@bp.route("/nouveau", methods=["GET", "POST"])
def new_password():
    token = request.values.get("jeton", "").strip()
    if not token or len(token) > 512:
        return _link_error(DownstreamError(400, "reset_link_invalid", "Ce lien est incomplet. Copiez l'adresse "
                                           "complète du lien reçu par courriel, ou cliquez directement dessus."))
    if request.method == "GET":
        try:
            owner = _identity().check_password_reset(token)
        except DownstreamError as error:
            return _link_error(error)
        return render_template("recovery/new_password.html", form=Form(PASSWORD_FIELDS, {}, SECRET), token=token,
                               owner=owner)
    form = Form(PASSWORD_FIELDS, request.form, SECRET)
    if not form["password"]:
        form.error("password", "Choisissez un mot de passe.")
    elif form["password_confirmation"] != form["password"]:
        form.error("password_confirmation", "Les deux mots de passe ne sont pas identiques.")
    if form.ok:
        try:
            done = _identity().complete_password_reset(token, form["password"])
        except DownstreamError as error:
            if error.code.startswith("reset_link"):
                return _link_error(error)
            form.refusal(error, {"password": "password"})
        else:
            staff = done.get("account_type") == "staff"
            return render_template("recovery/done.html", done=done,
                                   login_url=url_for("staff.login") if staff else url_for("pro.login"))
    return render_template("recovery/new_password.html", form=form, token=token, owner=None), 400
