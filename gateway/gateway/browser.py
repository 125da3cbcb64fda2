"""The browser session: a signed cookie holding the pro's tokens, its timeouts, CSRF tokens, security headers.

The session is Flask's signed cookie under its own name. Logging in clears whatever the cookie held and starts a
new session (no fixation); the session then ends after 30 minutes without a request or 12 hours after login,
whichever comes first. The access token is short-lived: it is refreshed through identity just before it expires.
"""
from __future__ import annotations

import functools
import hmac
import logging
import secrets
from datetime import timedelta

from flask import Flask, abort, flash, redirect, request, session, url_for

from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.settings import Settings

log = logging.getLogger("gateway.browser")

SESSION_COOKIE = "assmat_session"
REFRESH_MARGIN_SECONDS = 60   # refresh a token that expires within a minute: it must outlive the calls ahead
LAST_SEEN_STEP_SECONDS = 60   # rewrite the cookie at most once a minute just to note activity
EXPIRED_MESSAGE = "Votre session a expiré. Reconnectez-vous pour continuer."
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class LoginRequired(Exception):
    """The page needs a logged-in pro and there is none (anymore)."""


def init_app(app: Flask, settings: Settings) -> None:
    # Outside local runs the settings loader already refused an empty key; a local run alone gets a random one.
    app.secret_key = settings.secret_key or secrets.token_urlsafe(32)
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=not settings.is_local)
    app.before_request(_enforce_timeouts)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_account=current_account)

    @app.errorhandler(LoginRequired)
    def _to_login(_error):
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("pro.login", suivant=target), 303)


def _now() -> float:
    return current().clock()


# --- the session's life -------------------------------------------------------------------------------------------

def start_session(login: dict) -> None:
    """Replace whatever the cookie held by a new session for the account identity just authenticated."""
    session.clear()
    now = _now()
    session.update(created_at=now, last_seen=now)
    _store_tokens(login, now)


def _store_tokens(answer: dict, now: float) -> None:
    account = answer.get("account") or session.get("account") or {}
    session.update(access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                   access_expires_at=now + int(answer.get("expires_in", 0)),
                   account={key: account.get(key) for key in ("id", "role", "pmi_number", "display_name", "email")})


def end_session() -> str | None:
    """Clear the session; return its refresh token so that the caller revokes it."""
    refresh_token = session.get("refresh_token")
    session.clear()
    return refresh_token


def current_account() -> dict | None:
    return session.get("account")


def access_token() -> str:
    """The pro's access token, refreshed through identity when it is about to expire."""
    if "access_token" not in session:
        raise LoginRequired()
    now = _now()
    if session["access_expires_at"] - now > REFRESH_MARGIN_SECONDS:
        return session["access_token"]
    try:
        answer = current().clients.identity.refresh(session["refresh_token"])
    except DownstreamError as error:
        log.info("refresh refused", extra={"code": error.code})
        session.clear()
        flash(EXPIRED_MESSAGE, "info")
        raise LoginRequired() from error
    _store_tokens(answer, now)
    return session["access_token"]


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            raise LoginRequired()
        return view(*args, **kwargs)
    return wrapped


def _enforce_timeouts():
    if "created_at" not in session:
        return None
    settings, now = current().settings, _now()
    idle = now - session["last_seen"] > timedelta(minutes=settings.session_idle_minutes).total_seconds()
    too_old = now - session["created_at"] > timedelta(hours=settings.session_absolute_hours).total_seconds()
    if idle or too_old:
        session.clear()
        flash(EXPIRED_MESSAGE, "info")
        # A form posted into an expired session is dropped: its CSRF token died with the session.
        return redirect(url_for("pro.login"), 303) if request.method == "POST" else None
    if now - session["last_seen"] >= LAST_SEEN_STEP_SECONDS:
        session["last_seen"] = now
    return None


# --- CSRF and headers ---------------------------------------------------------------------------------------------

def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf():
    if request.method != "POST":
        return
    expected, given = session.get("csrf"), request.form.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin: the activation link's token never leaves in a Referer header
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/espace-pro"):
        headers["Cache-Control"] = "no-store"
    return response
