"""What every capability's routes share: the container, units of work, and how a refusal becomes an HTTP answer.

Each capability's `routes.py` makes its blueprint with `blueprint(...)`, parses the request, runs the command and
answers; the refusals' French messages live in `identity.accounts.domain.refusals`, their statuses here.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from identity.accounts.domain.refusals import Refusal
from identity.bootstrap import Container
from services.db import UnitOfWork
from services.web import error_body

_STATUS = {
    "activation_refused": 400, "ticket_invalid": 400, "ticket_expired": 400, "invalid_pmi_number": 400,
    "invalid_birth_date": 400, "invalid_email": 400, "weak_password": 400, "password_too_long": 400,
    "common_password": 400, "repetitive_password": 400, "password_contains_identifier": 400,
    "password_contains_birth_date": 400, "password_contains_portal_words": 400, "captcha_wrong": 400,
    "captcha_required": 428, "too_many_attempts": 429, "captcha_not_found": 404, "forbidden": 403,
    "link_invalid": 400, "link_used": 400, "link_expired": 400,
    "invalid_login": 400, "invalid_account_type": 400,
    "reset_link_invalid": 400, "reset_link_used": 400, "reset_link_expired": 400,
    "invalid_credentials": 401, "session_expired": 401, "staff_login_refused": 401,
    "email_not_confirmed": 403, "account_disabled": 403,
    "email_taken": 409, "account_already_active": 409, "no_pending_activation": 409, "conflict": 409,
}


def current_container() -> Container:
    return current_app.extensions["identity"]


def unit_of_work(read_only: bool = False) -> UnitOfWork:
    """Commands write; `read_only` for those that only read, which then never wait behind a writer (SQLite)."""
    return UnitOfWork(current_container().session_factory, read_only=read_only)


def blueprint(name: str, import_name: str) -> Blueprint:
    """A capability's blueprint: its refusals answered with their status, its answers kept out of caches."""
    bp = Blueprint(name, import_name)
    bp.register_error_handler(Refusal, _refused)
    bp.after_request(_no_store)
    return bp


def _refused(refusal: Refusal):
    body = error_body(refusal.code, refusal.message)
    retry_after = getattr(refusal, "retry_after", None)
    if retry_after is not None:
        body["error"]["retry_after"] = retry_after
    response = jsonify(body)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, _STATUS[refusal.code]


def _no_store(response):
    # Tickets, tokens and account data must not linger in any cache; the public keys may.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
