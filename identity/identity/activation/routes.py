"""The activation API: parse the request, run the command; refusals become HTTP statuses in identity.web."""
from __future__ import annotations

from flask import jsonify

from identity.accounts.domain.credentials import (
    check_password_policy, hash_password, normalize_email, parse_birth_date, parse_pmi_number)
from identity.activation import commands
from identity.activation.domain import read_ticket
from identity.web import blueprint, current_container, unit_of_work
from services.web import json_body

bp = blueprint("activation", __name__)


def _ticket_pmi_number(ticket) -> str:
    container = current_container()
    return read_ticket(ticket, container.keys.all(), container.settings.token_issuer, container.clock())


@bp.post("/api/activation/check")
def check_activation():
    body = json_body(("pmi_number", "birth_date"))
    pmi_number, birth_date = parse_pmi_number(body["pmi_number"]), parse_birth_date(body["birth_date"])
    container = current_container()
    signing_key = container.keys.signing_key()
    with unit_of_work(read_only=True) as uow:
        return jsonify(commands.check_activation(uow, signing_key, container.settings, pmi_number, birth_date,
                                                 container.clock()))


@bp.post("/api/activation/complete")
def complete_activation():
    body = json_body(("ticket", "email", "password"))
    pmi_number = _ticket_pmi_number(body["ticket"])
    email, password = normalize_email(body["email"]), check_password_policy(body["password"])
    password_hash = hash_password(password)
    container = current_container()
    with unit_of_work() as uow:
        return jsonify(commands.complete_activation(uow, container.settings, pmi_number, email, password_hash,
                                                    container.clock())), 201


@bp.post("/api/activation/resend")
def resend_confirmation():
    pmi_number = _ticket_pmi_number(json_body(("ticket",))["ticket"])
    container = current_container()
    with unit_of_work() as uow:
        return jsonify(commands.resend_confirmation(uow, container.settings, pmi_number, container.clock()))


@bp.post("/api/activation/confirm")
def confirm_email():
    token = json_body(("token",))["token"]
    with unit_of_work() as uow:
        return jsonify(account=commands.confirm_email(uow, token, current_container().clock()))
