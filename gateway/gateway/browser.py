"""The browser session: server-side, in the expiring store; the cookie holds only a random session id.

What a session holds (the pro's tokens and account, the CSRF token, flash messages, step data such as the
activation ticket) lives in the kernel's expiring store (`services.expiring`: Redis in production, a SQLite file in
a local run), under the SHA-256 of the id, so that whoever reads the store gets no usable cookie. The cookie carries
a 256-bit random id, signed with the gateway's SECRET_KEY. The id alone is what makes a session unguessable; the
signature is there so that a forged or garbled cookie is refused without a store round trip (a flood of made-up
ids costs no Redis or SQLite lookups), and changing SECRET_KEY logs everybody out at once.

Flask's `session` keeps its usual interface (the pages, `flash`, the tests' `session_transaction` are unchanged);
only where it is kept changes. Logging in deletes the session the browser had and issues a new id (no fixation);
logging out deletes the session from the store at once, so a copied cookie replayed after the logout finds nothing
and gets the login page. A session ends after 30 minutes without a request or 12 hours after it began (its login),
whichever comes first: the store forgets it by itself a little later (its TTL follows the idle timeout), and every
request checks both limits on the gateway's clock. The access token is short-lived: it is refreshed through
identity just before it expires.

When the store does not answer, a page that needs the session answers a French 503 (never a 500), and nothing is
written; a visitor without a session cookie is not affected.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets
import tempfile
from pathlib import Path

from flask import Flask, abort, flash, redirect, request, session, url_for
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, Signer
from werkzeug.datastructures import CallbackDict

from gateway.bootstrap import current
from gateway.clients import DownstreamError
from gateway.settings import Settings
from gateway.web.forms import MAX_FORM_BYTES, MAX_FORM_PARTS, BadInput, check_request_input
from services.expiring import ExpiringStore, open_store

log = logging.getLogger("gateway.browser")

LOCAL_SESSION_COOKIE = "assmat_session"
# Outside local runs: the browser accepts a __Host- cookie only with Secure, Path=/ and no Domain, so neither a
# sibling sub-domain nor a plain-http page can set or overwrite it.
SECURE_SESSION_COOKIE = "__Host-assmat_session"
SESSION_COOKIE = LOCAL_SESSION_COOKIE  # kept for callers of the old name (local runs and tests)
SESSION_ID_BYTES = 32
REFRESH_MARGIN_SECONDS = 60   # refresh a token that expires within a minute: it must outlive the calls ahead
LAST_SEEN_STEP_SECONDS = 60   # write the session back at most once a minute just to note activity
STORE_GRACE_SECONDS = 300     # the store keeps an idle session a little longer, so the page can say it expired
# What the pages need of the account identity returns (`roles`, `account_type`: identity's newer answers).
ACCOUNT_KEYS = ("id", "role", "roles", "account_type", "pmi_number", "display_name", "email")
HSTS = "max-age=31536000; includeSubDomains"
EXPIRED_MESSAGE = "Votre session a expiré. Reconnectez-vous pour continuer."
STORE_DOWN_MESSAGE = ("Votre session ne peut pas être lue pour le moment. Réessayez dans quelques minutes : si vous "
                      "remplissiez un formulaire, il faudra peut-être le reprendre.")
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class LoginRequired(Exception):
    """The page needs a logged-in pro and there is none (anymore)."""


class SessionStoreUnavailable(Exception):
    """The session store did not answer; the page cannot be served safely."""


# --- the store ----------------------------------------------------------------------------------------------------

def open_session_store(settings: Settings) -> ExpiringStore:
    """The store of the browser sessions. A local run without GATEWAY_STORE_URL gets a SQLite file of its own (the
    settings loader refuses an empty URL anywhere else)."""
    url = settings.store_url
    if not url:
        folder = Path(tempfile.mkdtemp(prefix="assmat-gateway-"))
        url = f"sqlite:///{folder / 'sessions.sqlite3'}"
        log.info("sessions kept in a temporary file", extra={"store": url})
    return open_store(url, namespace="gateway")


def _store_key(session_id: str) -> str:
    return "session:" + hashlib.sha256(session_id.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """The session's values as Flask's `session`; `session_id` is None until the first write gives it one."""

    def __init__(self, values: dict | None = None, session_id: str | None = None, created_at: float | None = None,
                 seen_at: float | None = None):
        def on_update(_self):
            _self.modified = True
        super().__init__(values or {}, on_update)
        self.session_id, self.created_at, self.seen_at = session_id, created_at, seen_at
        self.modified = False
        self.renew = False             # a login or logout: the next write forgets this id and issues another
        self.ended_logged_in = False   # the cookie named a logged-in session that timed out on this request
        self.unavailable = False       # the store failed while reading it

    @property
    def permanent(self) -> bool:  # the cookie dies with the browser; the server decides the rest
        return False

    @permanent.setter
    def permanent(self, value) -> None:
        pass


class StoreSessionInterface(SessionInterface):
    serializer = TaggedJSONSerializer()  # tuples (flash messages), Markup and dates come back as they went in

    def __init__(self, store: ExpiringStore, settings: Settings, clock):
        self.store, self.settings, self.clock = store, settings, clock
        self.signer = Signer(settings.secret_key or secrets.token_urlsafe(32), salt="assmat-session-id",
                             digest_method=hashlib.sha256, key_derivation="hmac")
        self.idle_seconds = settings.session_idle_minutes * 60
        self.absolute_seconds = settings.session_absolute_hours * 3600

    # Reading ----------------------------------------------------------------------------------------------------
    def session_id_of(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 200:
            return None
        try:
            return self.signer.unsign(cookie).decode()
        except (BadSignature, UnicodeError):
            return None

    def open_session(self, app: Flask, request) -> ServerSession:
        session_id = self.session_id_of(request.cookies.get(self.get_cookie_name(app)))
        if session_id is None:
            return ServerSession()
        now = self.clock()
        try:
            raw = self.store.get(_store_key(session_id), now=now)
        except Exception as error:  # whatever the backend raises (redis, SQLAlchemy): the store is down
            log.warning("session store unavailable", extra={"error": type(error).__name__, "operation": "read"})
            unavailable = ServerSession()
            unavailable.unavailable = True
            return unavailable
        if raw is None:  # logged out, or forgotten by the store: a new, empty session
            return ServerSession()
        try:
            record = json.loads(raw)
            values = self.serializer.loads(record["values"])
            created_at, seen_at = float(record["created_at"]), float(record["seen_at"])
        except (ValueError, KeyError, TypeError):  # written by another version, or damaged: start afresh
            log.warning("unreadable session record dropped")
            self._forget(session_id)
            return ServerSession()
        if now - seen_at > self.idle_seconds or now - created_at > self.absolute_seconds:
            self._forget(session_id)
            ended = ServerSession()
            ended.ended_logged_in = "account" in values
            return ended
        return ServerSession(values, session_id, created_at, seen_at)

    # Writing ----------------------------------------------------------------------------------------------------
    def save_session(self, app: Flask, session: ServerSession, response) -> None:
        if session.unavailable:
            return
        name = self.get_cookie_name(app)
        cookie_options = dict(domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                              secure=self.get_cookie_secure(app), httponly=self.get_cookie_httponly(app),
                              samesite=self.get_cookie_samesite(app))
        try:
            if session.renew and session.session_id:
                self._forget(session.session_id, raise_errors=True)
                session.session_id = None
            if not session:
                if session.session_id:
                    self._forget(session.session_id, raise_errors=True)
                if session.session_id or name in request.cookies:
                    response.delete_cookie(name, **cookie_options)
                response.vary.add("Cookie")
                return
            now = self.clock()
            if session.session_id is None:
                session.session_id, session.created_at = secrets.token_urlsafe(SESSION_ID_BYTES), now
                self._write(session, now, new=True)
                response.set_cookie(name, self.signer.sign(session.session_id).decode(), **cookie_options)
            elif session.modified or now - (session.seen_at or 0) >= LAST_SEEN_STEP_SECONDS:
                if not self._write(session, now, new=False):
                    # Ended meanwhile (a logout by another request): it must not come back; the browser forgets it.
                    response.delete_cookie(name, **cookie_options)
            response.vary.add("Cookie")
        except SessionStoreUnavailable:
            _replace_by_store_down_page(response)

    def _write(self, session: ServerSession, now: float, *, new: bool) -> bool:
        """Store the session; an existing one only while it still exists (False: it was ended meanwhile, by a
        logout in another request, and a request that read it before must not bring it back)."""
        record = {"values": self.serializer.dumps(dict(session)), "created_at": session.created_at, "seen_at": now}
        # Kept a little past the idle timeout (the page then says "expired"), never much past the absolute one.
        ttl = min(self.idle_seconds, self.absolute_seconds - (now - session.created_at)) + STORE_GRACE_SECONDS
        key = _store_key(session.session_id)
        try:
            if new:
                self.store.put(key, json.dumps(record), ttl, now=now)
                written = True
            else:
                written = self.store.replace(key, json.dumps(record), ttl, now=now)
        except Exception as error:
            log.warning("session store unavailable", extra={"error": type(error).__name__, "operation": "write"})
            raise SessionStoreUnavailable() from error
        session.seen_at = now
        return written

    def _forget(self, session_id: str, raise_errors: bool = False) -> None:
        try:
            self.store.delete(_store_key(session_id))
        except Exception as error:
            log.warning("session store unavailable", extra={"error": type(error).__name__, "operation": "delete"})
            if raise_errors:
                raise SessionStoreUnavailable() from error


def _replace_by_store_down_page(response) -> None:
    """The page was built but its session could not be kept: answer 503 rather than pretend it was."""
    from gateway.errors import error_page

    body, status = error_page(503, message=STORE_DOWN_MESSAGE)
    response.status_code = status
    response.set_data(body)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers.pop("Location", None)


def _interface() -> StoreSessionInterface:
    return current().sessions


def init_app(app: Flask, settings: Settings, container) -> None:
    # Outside local runs the settings loader already refused an empty or weak key; a local run alone gets a random one.
    app.secret_key = settings.secret_key or secrets.token_urlsafe(32)
    app.config.update(MAX_CONTENT_LENGTH=MAX_FORM_BYTES, MAX_FORM_PARTS=MAX_FORM_PARTS)
    app.config.update(SESSION_COOKIE_NAME=LOCAL_SESSION_COOKIE if settings.is_local else SECURE_SESSION_COOKIE,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=not settings.is_local, SESSION_COOKIE_PATH="/",
                      SESSION_COOKIE_DOMAIN=None)
    container.sessions = StoreSessionInterface(open_session_store(settings), settings, lambda: container.clock())
    app.session_interface = container.sessions
    app.before_request(_check_input)
    app.before_request(_refuse_without_store)
    app.before_request(_note_expiry)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_account=current_account)

    @app.errorhandler(LoginRequired)
    def _to_login(_error):
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("pro.login", suivant=target), 303)

    @app.errorhandler(BadInput)
    def _bad_input(error: BadInput):
        from flask import jsonify

        from gateway.errors import error_page
        from services.web import error_body
        if request.path.startswith("/api/"):
            return jsonify(error_body(error.code, error.message)), 400
        return error_page(400, message=error.message)

    @app.errorhandler(SessionStoreUnavailable)
    def _store_down(_error):
        from gateway.errors import error_page
        return error_page(503, message=STORE_DOWN_MESSAGE)


def _now() -> float:
    return current().clock()


# --- the session's life -------------------------------------------------------------------------------------------

def start_session(login: dict) -> None:
    """Replace whatever the browser's session held by a new one, under a new id, for the account identity just
    authenticated."""
    _renew()
    _store_tokens(login, _now())


def _store_tokens(answer: dict, now: float) -> None:
    account = answer.get("account") or session.get("account") or {}
    session.update(access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                   access_expires_at=now + int(answer.get("expires_in", 0)),
                   account={key: account.get(key) for key in ACCOUNT_KEYS})


def _renew() -> None:
    """Forget the current session at once (the store entry goes now, not when the response is written) and have
    the next write issue a new id."""
    if isinstance(session, ServerSession) and session.session_id:
        _interface()._forget(session.session_id, raise_errors=True)
    session.clear()
    if isinstance(session, ServerSession):
        session.renew = True


def end_session() -> str | None:
    """Delete the session from the store now; return its refresh token so that the caller revokes it at identity.
    A flash message written afterwards goes into a new session under a new id."""
    refresh_token = session.get("refresh_token")
    _renew()
    return refresh_token


def session_value(key: str, default=None):
    """Step data kept between pages (the activation ticket, a FranceConnect state...), in the server-side session."""
    return session.get(key, default)


def set_session_value(key: str, value) -> None:
    if value is None:
        session.pop(key, None)
    else:
        session[key] = value


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
        _renew()
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


def _check_input():
    check_request_input(request)


def _refuse_without_store():
    if getattr(session, "unavailable", False):
        from gateway.errors import error_page
        return error_page(503, message=STORE_DOWN_MESSAGE)
    return None


def _note_expiry():
    if not getattr(session, "ended_logged_in", False):
        return None
    flash(EXPIRED_MESSAGE, "info")
    # A form posted into an expired session is dropped: its CSRF token died with the session.
    return redirect(url_for("pro.login"), 303) if request.method == "POST" else None


# --- CSRF and headers ---------------------------------------------------------------------------------------------

def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf():
    if request.method != "POST":
        return
    expected, given = session.get("csrf"), request.form.get("csrf_token", "")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        abort(400)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # same-origin: the activation link's token never leaves in a Referer header
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not current().settings.is_local:
        # Browsers come back over https only, for a year; a local run is plain http and must not be pinned.
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith("/espace-pro"):
        headers["Cache-Control"] = "no-store"
    return response
