"""The espace pro: login, account activation in two steps, e-mail confirmation, the pro's home, logout.

Every check that decides something (who may activate, what a good password is) belongs to identity; the forms only
catch what is plainly malformed before the round trip, and show identity's refusals next to the fields they concern.
"""
from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError, ServiceUnavailable
from gateway.errors import error_page
from gateway.web import franceconnect
from gateway.web.forms import Form, check_date, check_pmi_number

log = logging.getLogger("gateway.pro")

bp = Blueprint("pro", __name__, url_prefix="/espace-pro")

LOGIN_FIELDS = ("pmi_number", "password")
CHECK_FIELDS = ("pmi_number", "birth_date", "birth_date_day", "birth_date_month", "birth_date_year")
ACCOUNT_FIELDS = ("email", "password", "password_confirmation")
ACTIVATION = "activation"   # session key: identity's ticket between the steps of the activation


def _identity():
    return current().clients.identity


def _safe_next(target: str | None) -> str:
    """Back to the page that asked for a login, but never to another site."""
    if target and target.startswith("/espace-pro") and "//" not in target and "\\" not in target:
        return target
    return url_for("pro.home")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    target = request.values.get("suivant")
    if request.method == "GET":
        return render_template("pro/login.html", form=Form(LOGIN_FIELDS, {}, secret=("password",)), target=target)
    form = Form(LOGIN_FIELDS, request.form, secret=("password",))
    check_pmi_number(form)
    if not form["password"]:
        form.error("password", "Saisissez votre mot de passe.")
    if form.ok:
        try:
            answer = _identity().login(form["pmi_number"], form["password"])
        except DownstreamError as error:
            form.refusal(error, {"password": "password"})
        else:
            browser.start_session(answer)
            return redirect(_safe_next(target), 303)
    return render_template("pro/login.html", form=form, target=target), 400


@bp.post("/deconnexion")
def logout():
    franceconnect_id_token = session.get(franceconnect.ID_TOKEN)
    refresh_token = browser.end_session()
    if refresh_token:
        try:
            _identity().logout(refresh_token)
        except (DownstreamError, ServiceUnavailable) as error:
            # The browser forgets the session whatever happens; the refresh token dies at its expiry at worst.
            log.warning("logout not recorded by identity", extra={"code": error.code})
    # After a FranceConnect login, FranceConnect's session ends too (it comes back to the home page).
    to_franceconnect = franceconnect.end_session_redirect(franceconnect_id_token)
    if to_franceconnect is not None:
        return to_franceconnect
    flash("Vous êtes déconnecté·e. À bientôt !", "success")
    return redirect(url_for("public.home"), 303)


@bp.get("")
@browser.login_required
def home():
    account = browser.current_account()
    agrement, agrement_error = None, None
    if account.get("role") == "assmat":
        try:
            agrement = current().clients.agrement.my_agrement(browser.access_token())
        except DownstreamError as error:
            agrement_error = error.message
    return render_template("pro/home.html", account=account, agrement=agrement, agrement_error=agrement_error)


# --- activation ---------------------------------------------------------------------------------------------------

@bp.route("/activation", methods=["GET", "POST"])
def activation():
    if request.method == "GET":
        return render_template("pro/activation.html", form=Form(CHECK_FIELDS, {}))
    form = Form(CHECK_FIELDS, request.form)
    check_pmi_number(form)
    birth_date = check_date(form, "birth_date", "La date de naissance", date.today())
    if form.ok:
        try:
            answer = _identity().check_activation(form["pmi_number"], birth_date.isoformat())
        except DownstreamError as error:
            form.refusal(error, {"birth": "birth_date", "pmi": "pmi_number"})
        else:
            session[ACTIVATION] = {"ticket": answer["ticket"], "display_name": answer.get("display_name", ""),
                                   "pending_email": answer.get("pending_email"),
                                   "expires_at": current().clock() + int(answer["expires_in"])}
            return redirect(url_for("pro.activation_account"), 303)
    return render_template("pro/activation.html", form=form), 400


def _pending_activation() -> dict | None:
    pending = session.get(ACTIVATION)
    if pending and pending["expires_at"] > current().clock():
        return pending
    return None


def _restart_activation(message: str):
    session.pop(ACTIVATION, None)
    flash(message, "error")
    return redirect(url_for("pro.activation"), 303)


@bp.route("/activation/compte", methods=["GET", "POST"])
def activation_account():
    pending = _pending_activation()
    if pending is None:
        return _restart_activation("Commencez par l'étape 1 : votre numéro de dossier et votre date de naissance.")
    secret = ("password", "password_confirmation")
    if request.method == "GET":
        return render_template("pro/activation_account.html", form=Form(ACCOUNT_FIELDS, {}, secret), pending=pending)
    form = Form(ACCOUNT_FIELDS, request.form, secret)
    # What makes a valid address or a strong password is identity's rule; only an empty field is caught here.
    if not form["email"]:
        form.error("email", "Saisissez votre adresse e-mail.")
    if not form["password"]:
        form.error("password", "Choisissez un mot de passe.")
    elif form["password_confirmation"] != form["password"]:
        form.error("password_confirmation", "Les deux mots de passe ne sont pas identiques.")
    if form.ok:
        try:
            _identity().complete_activation(pending["ticket"], form["email"], form["password"])
        except DownstreamError as error:
            if "ticket" in error.code:
                return _restart_activation(error.message)
            form.refusal(error, {"email": "email", "password": "password"})
        else:
            session[ACTIVATION] = {**pending, "email": form["email"]}
            return redirect(url_for("pro.activation_mail_sent"), 303)
    return render_template("pro/activation_account.html", form=form, pending=pending), 400


@bp.get("/activation/courriel-envoye")
def activation_mail_sent():
    return render_template("pro/mail_sent.html", pending=_pending_activation())


@bp.post("/activation/renvoyer")
def activation_resend():
    pending = _pending_activation()
    if pending is None:
        return _restart_activation("Votre demande d'activation a expiré : recommencez l'étape 1 pour recevoir un "
                                   "nouveau lien.")
    try:
        answer = _identity().resend_activation(pending["ticket"])
    except DownstreamError as error:
        flash(error.message, "error")
    else:
        flash(f"Un nouveau courriel vient d'être envoyé à {answer.get('email') or 'votre adresse'}.", "success")
    return redirect(url_for("pro.activation_mail_sent"), 303)


@bp.get("/activation/confirmer")
def activation_confirm():
    token = request.args.get("jeton", "").strip()
    if not token or len(token) > 512:
        return error_page(400, title="Lien incomplet",
                          message="Ce lien est incomplet. Copiez l'adresse complète du lien reçu par courriel, ou "
                                  "cliquez directement dessus.")
    try:
        _identity().confirm_activation(token)
    except DownstreamError as error:
        return render_template("pro/confirm.html", error=error), error.status
    session.pop(ACTIVATION, None)
    return render_template("pro/confirm.html", error=None)
