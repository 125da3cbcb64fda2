"""The sessions API: parse the request, run the command; refusals become HTTP statuses in identity.web."""
from __future__ import annotations

from flask import g, jsonify

from identity.accounts.domain.credentials import parse_pmi_number
from identity.accounts.queries import find_account
from identity.sessions import commands
from identity.web import blueprint, current_container, unit_of_work
from services.auth import require_token
from services.web import ApiError, json_body

bp = blueprint("sessions", __name__)


@bp.post("/api/sessions")
def open_session():
    body = json_body(("pmi_number", "password"))
    pmi_number = parse_pmi_number(body["pmi_number"])
    container = current_container()
    signing_key = container.keys.signing_key()
    with unit_of_work() as uow:
        return jsonify(commands.open_session(uow, signing_key, container.settings, pmi_number, body["password"],
                                             container.clock()))


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
