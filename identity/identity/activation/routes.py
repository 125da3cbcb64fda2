"""The activation API: parse the request, pass the gates (throttling, captcha), run the command, record the
outcome; refusals become HTTP statuses in identity.web.

The gates and the audit write outside the command's transaction (see identity.defences.gates), and every refusal of
step 1 records the same failure whatever its cause, so refusals stay alike in work as in bytes.
"""
from __future__ import annotations

from flask import jsonify

from identity.accounts.domain.credentials import (
    check_password_policy, hash_password, normalize_email, parse_birth_date, parse_pmi_number)
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import account_by_pmi_number
from identity.activation import commands
from identity.activation.domain import read_ticket
from identity.defences import gates
from identity.holders.queries import find_holder
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
    gates.check("activation_check", pmi_number, captcha=body)
    container = current_container()
    signing_key = container.keys.signing_key()
    try:
        with unit_of_work(read_only=True) as uow:
            answer = commands.check_activation(uow, signing_key, container.settings, pmi_number, birth_date,
                                               container.clock())
    except Refusal:
        gates.record_failure("activation_check", pmi_number)
        raise
    gates.record_success("activation_check", pmi_number)
    return jsonify(answer)


@bp.post("/api/activation/complete")
def complete_activation():
    body = json_body(("ticket", "email", "password"))
    pmi_number = _ticket_pmi_number(body["ticket"])
    email = normalize_email(body["email"])
    container = current_container()
    with unit_of_work(read_only=True) as uow:
        holder = find_holder(uow, pmi_number)
    password = check_password_policy(body["password"], identifiers=(pmi_number, email),
                                     birth_date=holder.birth_date if holder else None,
                                     extra_words=(container.settings.departement_name,))
    gates.check("activation_complete", pmi_number)
    gates.check("mail", email)
    password_hash = hash_password(password)
    try:
        with unit_of_work() as uow:
            answer = commands.complete_activation(uow, container.settings, pmi_number, email, password_hash,
                                                  container.clock())
    except Refusal as refusal:
        gates.record_failure("activation_complete", pmi_number, detail={"reason": refusal.code})
        raise
    gates.record_success("activation_complete", pmi_number)
    return jsonify(answer), 201


@bp.post("/api/activation/resend")
def resend_confirmation():
    pmi_number = _ticket_pmi_number(json_body(("ticket",))["ticket"])
    container = current_container()
    gates.check("resend", pmi_number)
    with unit_of_work(read_only=True) as uow:
        account = account_by_pmi_number(uow, pmi_number)
    if account is not None and account["email"]:
        gates.check("mail", account["email"])
    try:
        with unit_of_work() as uow:
            answer = commands.resend_confirmation(uow, container.settings, pmi_number, container.clock())
    except Refusal as refusal:
        gates.record_failure("resend", pmi_number, detail={"reason": refusal.code})
        raise
    gates.record_success("resend", pmi_number)
    return jsonify(answer)


@bp.post("/api/activation/confirm")
def confirm_email():
    token = json_body(("token",))["token"]
    throttle = current_container().throttle
    try:
        with unit_of_work() as uow:
            account = commands.confirm_email(uow, token, current_container().clock())
    except Refusal as refusal:
        # 256 random bits cannot be guessed: nothing to throttle, but the trail shows who tried.
        throttle.record("activation_confirm", "failure", ip=gates.client_address(), detail={"reason": refusal.code})
        raise
    throttle.record("activation_confirm", "success", identifier=account["pmi_number"], ip=gates.client_address(),
                    account_id=account["id"])
    return jsonify(account=account)
