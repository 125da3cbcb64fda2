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
from gateway.web import captcha, franceconnect
from gateway.web.forms import Form, check_date, check_pmi_number, safe_next
from services.validators import parse_pmi_number

log = logging.getLogger("gateway.pro")

bp = Blueprint("pro", __name__, url_prefix="/espace-pro")

LOGIN_FIELDS = ("login", "password", "captcha_answer")
# Staff log in at /espace-pmi (password + TOTP), never here.
STAFF_ROLES = ("pmi_agent", "pmi_central", "support", "admin")
CHECK_FIELDS = ("pmi_number", "birth_date", "birth_date_day", "birth_date_month", "birth_date_year",
                "captcha_answer")
# Never shown back: a password, and an answer to a challenge that the next page replaces.
LOGIN_SECRET, CHECK_SECRET = ("password", "captcha_answer"), ("captcha_answer",)
LOGIN_CAPTCHA = "login_captcha"   # session key: a login failed in this browser, the captcha is shown from now on
ACCOUNT_FIELDS = ("email", "password", "password_confirmation")
ACTIVATION = "activation"   # session key: identity's ticket between the steps of the activation


def _identity():
    return current().clients.identity


def _safe_next(target: str | None) -> str:
    """Back to the page that asked for a login, but never to another site (forms.safe_next)."""
    return safe_next(target) or url_for("pro.home")


def _login_page(form: Form, target, status: int = 200):
    challenge = captcha.new_challenge() if session.get(LOGIN_CAPTCHA) else None
    return render_template("pro/login.html", form=form, target=target, captcha=challenge), status


def check_login(form: Form) -> None:
    """A PMI number (spaces forgiven, kept in its 6-digit form) or something that looks like an e-mail; which
    e-mail is valid is identity's rule."""
    value = form["login"]
    if not value:
        form.error("login", "Saisissez votre numéro de dossier PMI ou votre adresse e-mail.")
    elif "@" not in value:
        try:
            form.values["login"] = parse_pmi_number(value, allow_spaces=True)
        except ValueError:
            form.error("login", "Saisissez votre numéro de dossier PMI (6 chiffres, par exemple 280153) ou votre "
                                "adresse e-mail.")
    elif len(value) > 254 or " " in value:
        form.error("login", "L'adresse e-mail n'est pas valide.")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    """Login; after a first failure in this browser (or when identity asks for it) the captcha is shown and
    required. A lock (too many failures) is told with how long it lasts."""
    # A CR/LF or other control character in the return address is refused (400), another site ignored.
    target = safe_next(request.values.get("suivant"))
    if request.method == "GET":
        return _login_page(Form(LOGIN_FIELDS, {}, secret=LOGIN_SECRET), target)
    # `pmi_number` is the field's former name: a form cached by a browser before the change still works.
    posted = {"login": request.form.get("login") or request.form.get("pmi_number", ""),
              "password": request.form.get("password", ""), "captcha_answer": request.form.get("captcha_answer", "")}
    form = Form(LOGIN_FIELDS, posted, secret=LOGIN_SECRET)
    if captcha.wants_reload(request.form):
        return _login_page(form, target)
    check_login(form)
    if not form["password"]:
        form.error("password", "Saisissez votre mot de passe.")
    with_captcha = bool(session.get(LOGIN_CAPTCHA))
    if with_captcha and not form["captcha_answer"]:
        form.error("captcha_answer", captcha.MISSING_ANSWER)
    status = 400
    if form.ok:
        try:
            answer = _identity().login(form["login"], form["password"],
                                       captcha.submitted(request.form) if with_captcha else None)
        except DownstreamError as error:
            session[LOGIN_CAPTCHA] = True
            if error.code == "too_many_attempts":
                form.error("password", captcha.retry_message(error))
                status = 429
            else:
                form.refusal(error, {"captcha": "captcha_answer", "password": "password", "credentials": "password",
                                     "disabled": "password"})
        else:
            browser.start_session(answer)
            return redirect(_safe_next(target), 303)
    return _login_page(form, target, status)


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
    if account.get("role") in STAFF_ROLES:
        return redirect(url_for("staff.home"), 303)
    agrement, agrement_error = None, None
    if account.get("role") == "assmat":
        try:
            agrement = current().clients.agrement.my_agrement(browser.access_token())
        except DownstreamError as error:
            agrement_error = error.message
    return render_template("pro/home.html", account=account, agrement=agrement, agrement_error=agrement_error)


# --- activation ---------------------------------------------------------------------------------------------------

def _activation_page(form: Form, status: int = 200):
    return render_template("pro/activation.html", form=form, captcha=captcha.new_challenge()), status


@bp.route("/activation", methods=["GET", "POST"])
def activation():
    """Step 1: PMI number, birth date and, always, the captcha."""
    if request.method == "GET":
        return _activation_page(Form(CHECK_FIELDS, {}, secret=CHECK_SECRET))
    form = Form(CHECK_FIELDS, request.form, secret=CHECK_SECRET)
    if captcha.wants_reload(request.form):
        return _activation_page(form)
    check_pmi_number(form)
    birth_date = check_date(form, "birth_date", "La date de naissance", date.today())
    if not form["captcha_answer"]:
        form.error("captcha_answer", captcha.MISSING_ANSWER)
    status = 400
    if form.ok:
        try:
            answer = _identity().check_activation(form["pmi_number"], birth_date.isoformat(),
                                                  captcha.submitted(request.form))
        except DownstreamError as error:
            if error.code == "too_many_attempts":
                form.error("pmi_number", captcha.retry_message(error))
                status = 429
            else:
                form.refusal(error, {"captcha": "captcha_answer", "birth": "birth_date", "pmi": "pmi_number"})
        else:
            session[ACTIVATION] = {"ticket": answer["ticket"], "display_name": answer.get("display_name", ""),
                                   "pending_email": answer.get("pending_email"),
                                   "expires_at": current().clock() + int(answer["expires_in"])}
            return redirect(url_for("pro.activation_account"), 303)
    return _activation_page(form, status)


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
            if error.code == "too_many_attempts":
                form.error("email", captcha.retry_message(error))
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
        flash(captcha.retry_message(error), "error")
    else:
        flash(f"Un nouveau courriel vient d'être envoyé à {answer.get('email') or 'votre adresse'}.", "success")
    return redirect(url_for("pro.activation_mail_sent"), 303)


@bp.get("/courriel-non-recu")
def mail_help():
    """"Je ne reçois pas le courriel": what to check, the providers that filter, resending, PMI central."""
    return render_template("pro/mail_help.html", pending=_pending_activation())


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
