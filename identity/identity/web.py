"""identity's HTTP API: parse the request, run the command, map refusals to HTTP statuses."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from identity import handlers
from identity.bootstrap import Container
from identity.domain.activation import read_ticket
from identity.domain.credentials import (
    check_password_policy, hash_password, normalize_email, parse_birth_date, parse_pmi_number)
from identity.domain.refusals import Refusal
from services.auth import require_token
from services.db import UnitOfWork
from services.web import ApiError, error_body, json_body

bp = Blueprint("identity", __name__)

_STATUS = {
    "activation_refused": 400, "ticket_invalid": 400, "ticket_expired": 400, "invalid_pmi_number": 400,
    "invalid_birth_date": 400, "invalid_email": 400, "weak_password": 400, "password_too_long": 400,
    "link_invalid": 400, "link_used": 400, "link_expired": 400,
    "invalid_credentials": 401, "session_expired": 401,
    "email_not_confirmed": 403,
    "email_taken": 409, "account_already_active": 409, "no_pending_activation": 409, "conflict": 409,
}


def _container() -> Container:
    return current_app.extensions["identity"]


def _uow(read_only: bool = False) -> UnitOfWork:
    """Commands write; `read_only` for those that only read, which then never wait behind a writer (SQLite)."""
    return UnitOfWork(_container().session_factory, read_only=read_only)


def _ticket_pmi_number(ticket) -> str:
    container = _container()
    return read_ticket(ticket, container.keys.all(), container.settings.token_issuer, container.clock())


@bp.errorhandler(Refusal)
def _refused(refusal: Refusal):
    return jsonify(error_body(refusal.code, refusal.message)), _STATUS[refusal.code]


@bp.after_request
def _no_store(response):
    # Tickets, tokens and account data must not linger in any cache; the public keys may.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(_container().keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/api/activation/check")
def check_activation():
    body = json_body(("pmi_number", "birth_date"))
    pmi_number, birth_date = parse_pmi_number(body["pmi_number"]), parse_birth_date(body["birth_date"])
    container = _container()
    signing_key = container.keys.signing_key()
    with _uow(read_only=True) as uow:
        return jsonify(handlers.check_activation(uow, signing_key, container.settings, pmi_number, birth_date,
                                                 container.clock()))


@bp.post("/api/activation/complete")
def complete_activation():
    body = json_body(("ticket", "email", "password"))
    pmi_number = _ticket_pmi_number(body["ticket"])
    email, password = normalize_email(body["email"]), check_password_policy(body["password"])
    password_hash = hash_password(password)
    container = _container()
    with _uow() as uow:
        return jsonify(handlers.complete_activation(uow, container.settings, pmi_number, email, password_hash,
                                                    container.clock())), 201


@bp.post("/api/activation/resend")
def resend_confirmation():
    pmi_number = _ticket_pmi_number(json_body(("ticket",))["ticket"])
    container = _container()
    with _uow() as uow:
        return jsonify(handlers.resend_confirmation(uow, container.settings, pmi_number, container.clock()))


@bp.post("/api/activation/confirm")
def confirm_email():
    token = json_body(("token",))["token"]
    with _uow() as uow:
        return jsonify(account=handlers.confirm_email(uow, token, _container().clock()))


@bp.post("/api/sessions")
def open_session():
    body = json_body(("pmi_number", "password"))
    pmi_number = parse_pmi_number(body["pmi_number"])
    container = _container()
    signing_key = container.keys.signing_key()
    with _uow() as uow:
        return jsonify(handlers.open_session(uow, signing_key, container.settings, pmi_number, body["password"],
                                             container.clock()))


@bp.post("/api/sessions/refresh")
def refresh_session():
    refresh_token = json_body(("refresh_token",))["refresh_token"]
    container = _container()
    signing_key = container.keys.signing_key()
    with _uow() as uow:
        return jsonify(handlers.refresh_session(uow, signing_key, container.settings, refresh_token,
                                                container.clock()))


@bp.post("/api/sessions/logout")
def close_session():
    refresh_token = json_body(("refresh_token",))["refresh_token"]
    with _uow() as uow:
        handlers.close_session(uow, refresh_token, _container().clock())
    return "", 204


@bp.get("/api/me")
@require_token(lambda: _container().verifier, roles=("assmat",))
def me():
    with _uow(read_only=True) as uow:
        account = handlers.find_account(uow, g.principal.subject)
    if account is None:  # deleted since the token was issued
        raise ApiError(401, "token_invalid", "Session expirée ou invalide, reconnectez-vous.")
    return jsonify(account)
