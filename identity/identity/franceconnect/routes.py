"""The FranceConnect API the gateway drives: start a sign-in, finish it at the callback, end FranceConnect's
session at logout. Every refusal is logged (code and detail, never a token) and answered in French."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, request

from identity.activation.domain import read_ticket
from identity.franceconnect import commands
from identity.accounts.gates import audit, client_ip
from identity.franceconnect.client import FranceConnectClient
from identity.franceconnect.domain.refusals import FranceConnectRefusal
from identity.web import blueprint, current_container, unit_of_work
from services.web import error_body, json_body

log = logging.getLogger("identity.franceconnect")

bp = blueprint("franceconnect", __name__)
CALLBACK_PATH = "/franceconnect/callback"
_EXTENSION = "identity.franceconnect"


def parts() -> dict:
    """The store of states and the provider's client, made once per app (tests put their own here)."""
    made = current_app.extensions.get(_EXTENSION)
    if made is None:
        container = current_container()
        settings = container.settings
        if not settings.franceconnect_enabled:
            raise FranceConnectRefusal("franceconnect_disabled")
        made = current_app.extensions.setdefault(_EXTENSION, {
            "store": container.store,  # the one store of identity (throttling, captcha, FranceConnect)
            "client": FranceConnectClient(settings.franceconnect_issuer, settings.franceconnect_client_id,
                                          settings.franceconnect_client_secret,
                                          settings.public_base_url.rstrip("/") + CALLBACK_PATH)})
    return made


@bp.errorhandler(FranceConnectRefusal)
def _refused(refusal: FranceConnectRefusal):
    log.warning("franceconnect refused", extra={"code": refusal.code, "detail": refusal.detail,
                                                 "path": request.path})
    if refusal.code not in ("franceconnect_disabled", "invalid_purpose"):
        try:
            with unit_of_work() as uow:
                audit(uow, "franceconnect", "refused", ip=client_ip(),
                      detail=f"{refusal.code}: {refusal.detail}"[:500])
                uow.commit()
        except Exception:  # the refusal must still be answered; the log line above keeps the trace
            log.exception("franceconnect refusal not audited")
    return jsonify(error_body(refusal.code, refusal.message)), refusal.status


@bp.get("/api/franceconnect")
def status():
    """Whether FranceConnect is offered (the gateway shows its buttons only then)."""
    return jsonify(enabled=current_container().settings.franceconnect_enabled)


@bp.post("/api/franceconnect/authorize")
def authorize():
    body = json_body(("purpose",))
    purpose = body["purpose"]
    pmi_number = None
    if purpose == commands.ACTIVATION:
        container = current_container()
        # Linking comes only after step 1: the ticket says which PMI number passed it.
        pmi_number = read_ticket(json_body(("purpose", "ticket"))["ticket"], container.keys.all(),
                                 container.settings.token_issuer, container.clock())
    found = parts()
    return jsonify(commands.begin(found["store"], found["client"], purpose, pmi_number, current_container().clock()))


@bp.post("/api/franceconnect/callback")
def callback():
    body = json_body(("state", "code"))
    found = parts()
    container = current_container()
    signing_key = container.keys.signing_key()
    request_, id_claims, userinfo = commands.verified_identity(found["store"], found["client"], body["state"],
                                                               body["code"], container.clock())
    sub = id_claims["sub"]
    with unit_of_work() as uow:
        if request_["purpose"] == commands.ACTIVATION:
            answer = commands.link_at_activation(uow, signing_key, container.settings, request_["pmi_number"], sub,
                                                 userinfo, container.clock())
        else:
            answer = commands.login_linked(uow, signing_key, container.settings, sub, container.clock())
    # The gateway keeps the id_token for the end-session request at logout (id_token_hint).
    return jsonify({**answer, "purpose": request_["purpose"], "id_token": id_claims["id_token"]})


@bp.post("/api/franceconnect/logout")
def logout():
    found, container = parts(), current_container()
    return jsonify(commands.end_session(found["store"], found["client"], container.settings,
                                        json_body(("id_token",))["id_token"], container.clock()))


@bp.post("/api/franceconnect/logout/return")
def logout_return():
    if not commands.check_logout_return(parts()["store"], json_body(("state",))["state"],
                                        current_container().clock()):
        raise FranceConnectRefusal("state_invalid", "logout state unknown, expired or replayed")
    return jsonify(ok=True)
