"""FranceConnect in the browser: the buttons' target, the callback, and FranceConnect's logout.

identity runs the OpenID Connect client (state, nonce, token checks, linking); the gateway moves the browser and
binds each sign-in to the browser session: the state identity hands out is kept in the session and the callback
must bring back that very state (a callback from another browser, or a replayed one, is refused before identity is
even asked, and identity takes the state only once).

- `GET /franceconnect/connexion?parcours=` (`connexion` from the login page, `activation` from step 2 of the
  activation, which needs its ticket) → 303 to FranceConnect. A link, not a form: the pages' CSP allows forms to
  post to the portal only (`form-action 'self'`, checked on redirects too), and starting a sign-in changes nothing
  that a forged request could abuse (the state is this browser's own);
- `GET /franceconnect/callback?code=&state=` (or `error=` when the person cancelled) → the espace pro, or a page
  in French saying why not;
- after a FranceConnect login, logout goes through FranceConnect's end-session (`end_session_redirect`, called by
  the logout route): the logout form's answer is a page that moves on to FranceConnect by itself (a redirect would
  break `form-action 'self'`), and FranceConnect comes back to `/?state=`, checked here.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from gateway import browser
from gateway.bootstrap import current
from gateway.clients import DownstreamError, ServiceUnavailable
from gateway.errors import error_page

log = logging.getLogger("gateway.franceconnect")

bp = Blueprint("franceconnect", __name__, url_prefix="/franceconnect")

PENDING = "franceconnect"             # session key: the state of the sign-in under way and what it is for
ID_TOKEN = "franceconnect_id_token"   # session key: kept after a FranceConnect login, for end-session
LOGOUT_STATE = "franceconnect_logout_state"
ACTIVATION = "activation"             # pro.ACTIVATION: the ticket of step 1
PURPOSES = {"connexion": "login", "activation": "activation"}


def _identity():
    return current().clients.identity


def franceconnect_offered() -> bool:
    """Whether the buttons are shown: a setting of the gateway, to keep in step with identity's
    FRANCECONNECT_ISSUER (were they out of step, identity would refuse in French, never silently)."""
    return current().settings.franceconnect_enabled


@bp.record_once
def _register(state) -> None:
    state.app.jinja_env.globals.update(franceconnect_offered=franceconnect_offered)
    state.app.before_request(_logout_return)


def _refused_page(message: str, status: int = 400, title: str = "Connexion FranceConnect impossible"):
    return render_template("franceconnect/refused.html", title=title, message=message), status


@bp.get("/connexion")
def start():
    parcours = request.args.get("parcours", "connexion")
    purpose = PURPOSES.get(parcours)
    if purpose is None:
        return error_page(400, "Le parcours FranceConnect demandé n'existe pas.")
    ticket = None
    if purpose == "activation":
        pending = session.get(ACTIVATION)
        if not pending or pending.get("expires_at", 0) <= current().clock():
            flash("Commencez par l'étape 1 : votre numéro de dossier et votre date de naissance. FranceConnect "
                  "vous sera proposé ensuite.", "error")
            return redirect(url_for("pro.activation"), 303)
        ticket = pending["ticket"]
    try:
        answer = _identity().franceconnect_authorize(purpose, ticket)
    except DownstreamError as error:
        if "ticket" in error.code:
            session.pop(ACTIVATION, None)
            flash(error.message, "error")
            return redirect(url_for("pro.activation"), 303)
        return _refused_page(error.message, error.status)
    except ServiceUnavailable:
        return _refused_page("FranceConnect ne répond pas pour le moment. Réessayez dans quelques minutes, ou "
                             "utilisez votre numéro de dossier et votre mot de passe.", 503)
    session[PENDING] = {"state": answer["state"], "purpose": purpose}
    return redirect(answer["authorization_url"], 303)


@bp.get("/callback")
def callback():
    pending = session.pop(PENDING, None)
    state = request.args.get("state", "")
    if not pending or not state or not hmac.compare_digest(pending["state"].encode(), state.encode()):
        log.warning("franceconnect callback refused", extra={"code": "state_mismatch",
                                                             "had_pending": bool(pending)})
        return _refused_page("Cette connexion FranceConnect n'est pas celle que ce navigateur a demandée, ou elle "
                             "a déjà servi. Recommencez depuis la page de connexion.")
    if request.args.get("error"):
        log.info("franceconnect cancelled", extra={"code": request.args.get("error", "")[:64]})
        flash("La connexion avec FranceConnect a été annulée. Vous pouvez réessayer ou utiliser votre numéro de "
              "dossier et votre mot de passe.", "info")
        return redirect(url_for("pro.activation_account" if pending["purpose"] == "activation" else "pro.login"),
                        303)
    code = request.args.get("code", "")
    if not code or len(code) > 2048:
        return _refused_page("FranceConnect n'a pas transmis de réponse exploitable. Recommencez.")
    try:
        answer = _identity().franceconnect_callback(state, code)
    except DownstreamError as error:
        log.warning("franceconnect sign-in refused", extra={"code": error.code})
        title = ("Aucun compte relié à cette identité" if error.code == "not_linked"
                 else "Identité non reconnue" if error.code == "identity_mismatch"
                 else "Connexion FranceConnect impossible")
        return _refused_page(error.message, error.status, title)
    except ServiceUnavailable:
        return _refused_page("Le portail ne peut pas terminer la connexion pour le moment. Réessayez dans quelques "
                             "minutes.", 503)
    browser.start_session(answer)
    session[ID_TOKEN] = answer["id_token"]
    if answer.get("purpose") == "activation":
        flash("Votre compte est activé et relié à FranceConnect : vous vous connecterez désormais avec le bouton "
              "« S'identifier avec FranceConnect ».", "success")
    return redirect(url_for("pro.home"), 303)


def end_session_redirect(id_token: str | None):
    """After the portal's session ended: a redirect to FranceConnect's end-session when the person had logged in
    through FranceConnect, else None. Called by the logout route once the session is cleared."""
    if not id_token:
        return None
    try:
        answer = _identity().franceconnect_logout(id_token)
    except (DownstreamError, ServiceUnavailable) as error:
        log.warning("franceconnect end-session not started", extra={"code": error.code})
        flash("Vous êtes déconnecté·e du portail. Pensez à vous déconnecter aussi de FranceConnect.", "info")
        return redirect(url_for("public.home"), 303)
    session[LOGOUT_STATE] = answer["state"]
    return render_template("franceconnect/logout.html", end_session_url=answer["end_session_url"])


def _logout_return():
    """FranceConnect sends the browser back to `/?state=` after its end-session: that state must be ours."""
    if request.path != "/" or request.method != "GET" or "state" not in request.args:
        return None
    expected = session.pop(LOGOUT_STATE, None)
    if not expected:
        return None  # no FranceConnect logout under way: the home page, whatever its query says
    state = request.args.get("state", "")
    ok = hmac.compare_digest(expected.encode(), state.encode())
    if ok:
        try:
            _identity().franceconnect_logout_return(state)
        except (DownstreamError, ServiceUnavailable) as error:
            ok = False
            log.warning("franceconnect logout return refused", extra={"code": error.code})
    if ok:
        flash("Vous êtes déconnecté·e du portail et de FranceConnect. À bientôt !", "success")
    else:
        log.warning("franceconnect logout return with an unknown state")
        flash("Vous êtes déconnecté·e du portail. Le retour de FranceConnect n'a pas pu être vérifié : fermez votre "
              "navigateur si l'ordinateur est partagé.", "info")
    return redirect(url_for("public.home"), 303)
