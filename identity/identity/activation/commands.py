"""Activating an assmat's account: step 1 (PMI number and birth date), step 2 (e-mail and password), the
confirmation link and its resending.

Plain functions that receive their unit of work and dependencies. Commands get values already parsed by the web
layer, refuse with `Refusal`, and commit only once everything they write (outbox event included) is written. The
signing key is handed in, not fetched here: creating it on first need takes its own transaction, which on SQLite
would wait forever behind the one the command holds.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from identity.accounts.domain import ACTIVE, ASSMAT, PENDING_EMAIL
from identity.accounts.domain.credentials import hash_secret, mask_email, new_secret, normalize_email
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import account_by_id, account_by_pmi_number, account_json
from identity.activation.domain import (
    CONFIRMATION_LIFETIME, CONFIRMATION_PATH, ELIGIBLE_AGREMENT_STATUSES, TICKET_LIFETIME, check_confirmation_link,
    issue_ticket, may_activate, paris_today, within_validity)
from identity.adapters.orm import accounts, email_confirmations
from identity.holders.queries import find_holder
from identity.settings import Settings
from services.catalogue.identity import (
    ACCOUNT_ACTIVATED, ACTIVATION_ADDRESS_REPLACED, ACTIVATION_ELSEWHERE_NOTICE, EMAIL_CONFIRMATION_REQUESTED)
from services.db import UnitOfWork


def check_activation(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, pmi_number: str,
                     birth_date: dt.date, now: dt.datetime) -> dict:
    """Step 1. Both lookups run whatever the first one found, so every refusal costs the same."""
    holder = find_holder(uow, pmi_number)
    account = account_by_pmi_number(uow, pmi_number)
    if not may_activate(holder, account["status"] if account else None, birth_date, today=paris_today(now)):
        raise Refusal("activation_refused")
    pending_email = account["email"] if account else None
    return {"ticket": issue_ticket(signing_key, pmi_number, settings.token_issuer, now),
            "display_name": holder.display_name, "expires_in": int(TICKET_LIFETIME.total_seconds()),
            "pending_email": mask_email(pending_email) if pending_email else None}


def complete_activation(uow: UnitOfWork, settings: Settings, pmi_number: str, email: str, password_hash: str,
                        now: dt.datetime) -> dict:
    """Step 2: create the account, or replace a still-pending one (a mistyped address is fixed by passing step 1
    again and giving another address: the links sent to the previous address stop working, and that address is
    told). The password comes hashed: hashing is slow and must not hold the transaction open."""
    holder = find_holder(uow, pmi_number)
    if holder is None or holder.agrement_status not in ELIGIBLE_AGREMENT_STATUSES \
            or not within_validity(holder, paris_today(now)):
        raise Refusal("activation_refused")
    account = account_by_pmi_number(uow, pmi_number)
    if account and account["status"] == ACTIVE:
        raise Refusal("account_already_active")
    owner = uow.session.execute(sa.select(accounts.c.id).where(accounts.c.email == email)).scalar()
    if owner is not None and (account is None or owner != account["id"]):
        raise Refusal("email_taken")
    values = {"email": email, "password_hash": password_hash, "display_name": holder.display_name,
              "status": PENDING_EMAIL}
    if account:
        account_id = account["id"]
        uow.session.execute(accounts.update().where(accounts.c.id == account_id).values(**values))
        uow.session.execute(email_confirmations.delete().where(email_confirmations.c.account_id == account_id))
        if account["email"] and account["email"] != email:
            # Her links there are dead now; if she did not change it herself, that address must hear of it.
            uow.add_event(ACTIVATION_ADDRESS_REPLACED.build(account_id, {
                "account_id": account_id, "email": account["email"], "display_name": holder.display_name,
                "new_email_masked": mask_email(email)}))
    else:
        account_id = str(uuid.uuid4())
        uow.session.execute(accounts.insert().values(id=account_id, role=ASSMAT, pmi_number=pmi_number,
                                                     created_at=now, **values))
    expires_at = _send_confirmation_link(uow, settings, account_id, email, holder.display_name, now)
    try:
        uow.commit()
    except IntegrityError:  # a concurrent request took the address or created the account first
        raise Refusal("conflict") from None
    return {"status": PENDING_EMAIL, "email": email, "expires_at": expires_at.isoformat()}


def resend_confirmation(uow: UnitOfWork, settings: Settings, pmi_number: str, now: dt.datetime) -> dict:
    """A fresh link to the same address. Earlier links keep working until they expire: they went to the same
    mailbox, and a mail delayed by its provider should not arrive dead."""
    account = account_by_pmi_number(uow, pmi_number)
    if account is None or account["status"] != PENDING_EMAIL:
        raise Refusal("no_pending_activation")
    expires_at = _send_confirmation_link(uow, settings, account["id"], account["email"], account["display_name"],
                                         now)
    uow.commit()
    return {"status": PENDING_EMAIL, "email": mask_email(account["email"]), "expires_at": expires_at.isoformat()}


def confirm_email(uow: UnitOfWork, token, now: dt.datetime) -> dict:
    if not isinstance(token, str):
        raise Refusal("link_invalid")
    token_hash = hash_secret(token)
    link = uow.session.execute(sa.select(email_confirmations)
                               .where(email_confirmations.c.token_hash == token_hash)).mappings().first()
    if link is None:
        raise Refusal("link_invalid")
    check_confirmation_link(link["used_at"], link["expires_at"], now)
    claimed = uow.session.execute(email_confirmations.update()
                                  .where(email_confirmations.c.token_hash == token_hash,
                                         email_confirmations.c.used_at.is_(None)).values(used_at=now))
    if claimed.rowcount != 1:  # the same link followed twice at the same moment
        raise Refusal("link_used")
    account_id = link["account_id"]
    # The account is active now: every other link it was sent reads as used.
    uow.session.execute(email_confirmations.update()
                        .where(email_confirmations.c.account_id == account_id,
                               email_confirmations.c.used_at.is_(None)).values(used_at=now))
    uow.session.execute(accounts.update().where(accounts.c.id == account_id)
                        .values(status=ACTIVE, activated_at=now))
    account = account_by_id(uow, account_id)
    uow.add_event(ACCOUNT_ACTIVATED.build(account_id, {
        "account_id": account_id, "role": account["role"], "pmi_number": account["pmi_number"],
        "method": "password", "email": account["email"] or ""}))
    _tell_extract_address(uow, account, "password")
    uow.commit()
    return account_json(account)


def _tell_extract_address(uow: UnitOfWork, account, method: str) -> None:
    """The PMI's extract knows an address for her and the account was activated with another (or none): that
    address hears of it, with what to do if it was not her."""
    holder = find_holder(uow, account["pmi_number"]) if account["pmi_number"] else None
    if holder is None or not holder.email or holder.email == (account["email"] or ""):
        return
    uow.add_event(ACTIVATION_ELSEWHERE_NOTICE.build(account["id"], {
        "account_id": account["id"], "email": holder.email, "display_name": holder.display_name,
        "account_email_masked": mask_email(account["email"]) if account["email"] else "",
        "method": method}))


def complete_registration(uow: UnitOfWork, pmi_number: str, email: str | None, now: dt.datetime) -> dict:
    """PMI central finishes a registration by hand (she called: the mail never came, or she has no computer).
    A pending account becomes active (with the address given, or the one it has); without an account, one is
    created, active, without a password: she sets it through "mot de passe oublié" (or logs in with FranceConnect).
    Refused when the number has no agrément that allows it, when the account is already active, or when the
    address belongs to another account."""
    holder = find_holder(uow, pmi_number)
    if holder is None or holder.agrement_status not in ELIGIBLE_AGREMENT_STATUSES:
        raise Refusal("activation_refused")
    account = account_by_pmi_number(uow, pmi_number)
    if account and account["status"] == ACTIVE:
        raise Refusal("account_already_active")
    email = normalize_email(email) if email else (account["email"] if account else None)
    if email:
        owner = uow.session.execute(sa.select(accounts.c.id).where(accounts.c.email == email)).scalar()
        if owner is not None and (account is None or owner != account["id"]):
            raise Refusal("email_taken")
    created = account is None
    if account:
        account_id = account["id"]
        uow.session.execute(accounts.update().where(accounts.c.id == account_id).values(
            email=email, status=ACTIVE, activated_at=now, display_name=holder.display_name))
        uow.session.execute(email_confirmations.update()
                            .where(email_confirmations.c.account_id == account_id,
                                   email_confirmations.c.used_at.is_(None)).values(used_at=now))
    else:
        account_id = str(uuid.uuid4())
        uow.session.execute(accounts.insert().values(
            id=account_id, role=ASSMAT, pmi_number=pmi_number, email=email, password_hash=None,
            display_name=holder.display_name, status=ACTIVE, created_at=now, activated_at=now))
    account = account_by_id(uow, account_id)
    uow.add_event(ACCOUNT_ACTIVATED.build(account_id, {
        "account_id": account_id, "role": account["role"], "pmi_number": pmi_number, "method": "pmi_central",
        "email": account["email"] or ""}))
    _tell_extract_address(uow, account, "pmi_central")
    try:
        uow.commit()
    except IntegrityError:
        raise Refusal("conflict") from None
    return {**account_json(account), "status": ACTIVE, "created": created,
            "has_password": bool(account["password_hash"])}


def _send_confirmation_link(uow: UnitOfWork, settings: Settings, account_id: str, email: str, display_name: str,
                            now: dt.datetime) -> dt.datetime:
    """Store the link's hash and, in the same transaction, ask for the mail (the outbox event carries the link)."""
    token = new_secret()
    expires_at = now + CONFIRMATION_LIFETIME
    uow.session.execute(email_confirmations.insert().values(token_hash=hash_secret(token), account_id=account_id,
                                                            created_at=now, expires_at=expires_at))
    uow.add_event(EMAIL_CONFIRMATION_REQUESTED.build(account_id, {
        "account_id": account_id, "email": email, "display_name": display_name,
        "confirmation_url": settings.public_base_url.rstrip("/") + CONFIRMATION_PATH + token,
        "expires_at": expires_at.isoformat()}))
    return expires_at
