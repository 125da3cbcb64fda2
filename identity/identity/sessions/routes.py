"""The sessions API: parse the request, run the command; refusals become HTTP statuses in identity.web."""
from __future__ import annotations

from flask import g, jsonify

from identity.accounts.domain.credentials import normalize_email, parse_pmi_number
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import find_account
from identity.defences import gates
from identity.sessions import commands
from identity.sessions.commands import LOGIN_ROLES
from identity.web import blueprint, current_container, unit_of_work
from services.auth import require_token
from services.web import ApiError, json_body

bp = blueprint("sessions", __name__)


def parse_login(body: dict) -> tuple[str, str]:
    """`login`: a PMI number (6 digits, spaces forgiven) or an e-mail; the older `pmi_number` key still works."""
    if body.get("login") in (None, "") and body.get("pmi_number") not in (None, ""):
        return "pmi_number", parse_pmi_number(body["pmi_number"])
    value = body.get("login")
    if value in (None, ""):
        raise ApiError(400, "missing_fields", "Champ(s) manquant(s) : login.", {"fields": ["login"]})
    if not isinstance(value, str):
        raise Refusal("invalid_login")
    if "@" in value:
        return "email", normalize_email(value)
    if value.replace(" ", "").isascii() and value.replace(" ", "").isdigit():
        return "pmi_number", parse_pmi_number(value)
    raise Refusal("invalid_login")


def parse_account_type(value) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.strip().lower() not in LOGIN_ROLES:
        raise Refusal("invalid_account_type")
    return value.strip().lower()


@bp.post("/api/sessions")
def open_session():
    """Login by PMI number or e-mail, behind the gates: a locked identifier or address is refused even with the
    right password (429 until the lock ends); after a failure the captcha is required (428 without it, 400 when
    wrong)."""
    body = json_body(("password",))
    login, account_type = parse_login(body), parse_account_type(body.get("account_type"))
    identifier = login[1]
    gates.check("login", identifier, captcha=body)
    container = current_container()
    signing_key = container.keys.signing_key()
    try:
        with unit_of_work() as uow:
            answer = commands.open_session(uow, signing_key, container.settings, login, body["password"],
                                           container.clock(), account_type)
    except Refusal as refusal:
        if refusal.code == "invalid_credentials":
            gates.record_failure("login", identifier)
        else:  # the right password, an account not confirmed or disabled: not a guess, but part of the trail
            container.throttle.record("login", "refused", identifier=identifier, ip=gates.client_address(),
                                      detail={"reason": refusal.code})
        raise
    gates.record_success("login", identifier, account_id=answer["account"]["id"])
    return jsonify(answer)


@bp.post("/api/sessions/refresh")
def refresh_session():
    refresh_token = json_body(("refresh_token",))["refresh_token"]
    container = current_container()
    signing_key = container.keys.signing_key()
    with unit_of_work() as uow:
        return jsonify(commands.refresh_session(uow, signing_key, container.settings, refresh_token,
                                                container.clock()))


@bp.post("/api/sessions/logout")
def close_session():
    refresh_token = json_body(("refresh_token",))["refresh_token"]
    with unit_of_work() as uow:
        commands.close_session(uow, refresh_token, current_container().clock())
    return "", 204


@bp.get("/api/me")
@require_token(lambda: current_container().verifier, roles=("assmat",))
def me():
    with unit_of_work(read_only=True) as uow:
        account = find_account(uow, g.principal.subject)
    if account is None:  # deleted since the token was issued
        raise ApiError(401, "token_invalid", "Session expirée ou invalide, reconnectez-vous.")
    return jsonify(account)
