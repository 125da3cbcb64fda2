"""The staff login API and the staff member's own account; refusals become HTTP statuses in identity.web."""
from __future__ import annotations

from flask import g, jsonify

from identity.accounts import gates
from identity.accounts.domain import STAFF_ROLES
from identity.accounts.domain.credentials import normalize_email
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import account_by_id
from identity.staff import commands
from identity.web import blueprint, current_container, unit_of_work
from services.auth import require_token
from services.web import ApiError, json_body

bp = blueprint("staff", __name__)


@bp.post("/api/staff/sessions")
def open_staff_session():
    body = json_body(("email", "password", "totp"))
    try:
        email = normalize_email(body["email"])
    except Refusal:
        # Not an address: it matches no account, and the attempt is still audited and refused like any other.
        email = str(body["email"]).strip().lower()[:254]
    ip = gates.client_ip()
    container = current_container()
    try:
        gates.check("staff_login", email, ip)
    except (Refusal, ApiError):
        with unit_of_work() as uow:
            gates.audit(uow, "staff_login", "throttled", identifier=email, ip=ip)
            uow.commit()
        raise
    signing_key = container.keys.signing_key()
    try:
        with unit_of_work() as uow:
            tokens = commands.open_staff_session(uow, signing_key, container.settings, email, body["password"],
                                                 body["totp"], ip, container.clock())
    except Refusal:
        gates.record_failure("staff_login", email, ip)
        raise
    gates.record_success("staff_login", email, ip, audited=True)  # the command wrote it, with the account
    return jsonify(tokens)


@bp.get("/api/staff/me")
@require_token(lambda: current_container().verifier, roles=STAFF_ROLES)
def staff_me():
    with unit_of_work(read_only=True) as uow:
        account = account_by_id(uow, g.principal.subject)
        if account is None or account["role"] not in STAFF_ROLES or account["status"] != "active":
            raise ApiError(401, "token_invalid", "Session expirée ou invalide, reconnectez-vous.")
        return jsonify(commands.staff_json(account))
