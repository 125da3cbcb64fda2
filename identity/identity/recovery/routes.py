"""The forgotten-password API: parse the request, run the command; refusals become HTTP statuses in identity.web."""
from __future__ import annotations

import time

from flask import jsonify

from identity.accounts import gates
from identity.accounts.domain.credentials import check_password_policy, hash_password, normalize_email
from identity.holders.queries import find_holder
from identity.accounts.domain.refusals import Refusal
from identity.recovery import commands
from identity.recovery.domain import MIN_ANSWER_SECONDS
from identity.web import blueprint, current_container, unit_of_work
from services.web import json_body

bp = blueprint("recovery", __name__)

SENT_MESSAGE = ("Si un compte de ce type existe avec cette adresse, un e-mail vient de lui être envoyé avec un lien "
                "pour choisir un mot de passe. Ce lien est valable 1 heure et ne sert qu'une fois.")


@bp.post("/api/recovery/request")
def request_reset():
    started = time.monotonic()
    body = json_body(("email", "account_type"))
    kind = body["account_type"]
    if not isinstance(kind, str):
        raise Refusal("invalid_account_type")
    email = normalize_email(body["email"])
    ip = gates.client_ip()
    gates.check("reset", email, ip)
    gates.check("mail", email, ip)  # the recipient's quota, shared with every mail-sending action
    container = current_container()
    with unit_of_work() as uow:
        commands.request_reset(uow, container.settings, email, kind.strip().lower(), container.clock())
    # Counted as a success whatever happened: the throttle limits how often anyone asks, not who exists.
    gates.record_success("reset", email, ip)
    time.sleep(max(0.0, MIN_ANSWER_SECONDS - (time.monotonic() - started)))
    return jsonify(status="accepted", message=SENT_MESSAGE), 202


@bp.post("/api/recovery/check")
def check_reset():
    token = json_body(("token",))["token"]
    container = current_container()
    with unit_of_work(read_only=True) as uow:
        return jsonify(commands.check_reset(uow, token, container.clock()))


@bp.post("/api/recovery/complete")
def complete_reset():
    body = json_body(("token", "password"))
    container = current_container()
    with unit_of_work(read_only=True) as uow:  # a dead link is said before the slow hashing
        account = commands.check_reset(uow, body["token"], container.clock())
        login = str(account.get("login") or "")
        holder = find_holder(uow, login) if login.isdigit() else None
    # The same policy as at activation: nothing built from the login, the birth date or the portal's words.
    password = check_password_policy(body["password"], identifiers=(login,),
                                     birth_date=holder.birth_date if holder else None,
                                     extra_words=(container.settings.departement_name,))
    password_hash = hash_password(password)
    with unit_of_work() as uow:
        answer = commands.complete_reset(uow, body["token"], password_hash, container.clock())
    # The link proved the mailbox: the login's earlier failures (hence its captcha) are forgiven; a lock stays.
    gates.record_success("login", login, gates.client_ip(), audited=True)
    return jsonify(answer)
