"""Forgotten password: asking for a link, reading it, setting the new password through it.

Plain functions that receive their unit of work, refuse with `Refusal`, and commit once everything they write
(outbox events included) is written.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from identity.accounts.commands import end_every_session, login_of, tell_password_changed
from identity.accounts.domain import ACTIVE, PENDING_EMAIL, account_type, role_for_type
from identity.accounts.domain.credentials import hash_secret, new_secret
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import account_by_id
from identity.adapters.orm import accounts, email_confirmations, password_resets
from identity.recovery.domain import (
    LINKS_WINDOW, RESET_LIFETIME, RESET_PATH, check_reset_link, may_send_link)
from identity.settings import Settings
from services.catalogue.identity import ACCOUNT_ACTIVATED, PASSWORD_RESET_REQUESTED
from services.db import UnitOfWork

log = logging.getLogger("identity.recovery")

# Accounts that may get a link: a pending assmat too (see complete_reset), never a disabled one.
_RECOVERABLE_STATUSES = (ACTIVE, PENDING_EMAIL)


def request_reset(uow: UnitOfWork, settings: Settings, email: str, kind: str, now: dt.datetime) -> bool:
    """Mail a link if an account of that type has that address. The caller answers the same either way; the work
    is alike too: the lookup, the count of recent links and the secret happen in every case. Returns whether a
    link was queued (for logs and tests, never for the answer)."""
    role = role_for_type(kind)
    if role is None:
        raise Refusal("invalid_account_type")
    account = uow.session.execute(sa.select(accounts).where(accounts.c.email == email, accounts.c.role == role)
                                  ).mappings().first()
    token = new_secret()
    token_hash = hash_secret(token)
    recent = uow.session.execute(
        sa.select(sa.func.count()).select_from(password_resets)
        .where(password_resets.c.account_id == (account["id"] if account else ""),
               password_resets.c.created_at > now - LINKS_WINDOW)).scalar_one()
    if account is None or account["status"] not in _RECOVERABLE_STATUSES:
        return False
    if not may_send_link(recent):
        log.info("reset link not sent: too many in the window", extra={"account_id": account["id"]})
        return False
    expires_at = now + RESET_LIFETIME
    uow.session.execute(password_resets.insert().values(token_hash=token_hash, account_id=account["id"],
                                                        created_at=now, expires_at=expires_at))
    uow.add_event(PASSWORD_RESET_REQUESTED.build(account["id"], {
        "account_id": account["id"], "email": account["email"], "display_name": account["display_name"],
        "account_type": account_type(account), "reset_url": reset_url(settings, token),
        "expires_at": expires_at.isoformat(), "first_password": account["password_hash"] is None}))
    uow.commit()
    return True


def issue_link(uow: UnitOfWork, settings: Settings, account_id: str, lifetime: dt.timedelta,
               now: dt.datetime) -> str:
    """A link handed over by other means than a mail (the `staff` command prints it). The caller commits."""
    token = new_secret()
    uow.session.execute(password_resets.insert().values(token_hash=hash_secret(token), account_id=account_id,
                                                        created_at=now, expires_at=now + lifetime))
    return reset_url(settings, token)


def reset_url(settings: Settings, token: str) -> str:
    return settings.public_base_url.rstrip("/") + RESET_PATH + token


def check_reset(uow: UnitOfWork, token, now: dt.datetime) -> dict:
    """Before showing the form: is the link still good, and whose is it (the page greets the person)."""
    _, account = _usable_link(uow, token, now)
    return _answer(account)


def complete_reset(uow: UnitOfWork, token, password_hash: str, now: dt.datetime) -> dict:
    """Set the new password. The link dies, so do the account's other links and every one of its sessions; its
    owner is told by mail. A pending assmat (never confirmed her address) becomes active: the link reached the
    mailbox, which is all the confirmation link would have proved."""
    link, account = _usable_link(uow, token, now)
    claimed = uow.session.execute(password_resets.update()
                                  .where(password_resets.c.token_hash == link["token_hash"],
                                         password_resets.c.used_at.is_(None)).values(used_at=now))
    if claimed.rowcount != 1:  # the same link followed twice at the same moment
        raise Refusal("reset_link_used")
    account_id = account["id"]
    uow.session.execute(password_resets.update().where(password_resets.c.account_id == account_id,
                                                       password_resets.c.used_at.is_(None)).values(used_at=now))
    values = {"password_hash": password_hash, "password_changed_at": now}
    if account["status"] == PENDING_EMAIL:
        values.update(status=ACTIVE, activated_at=now)
        uow.session.execute(email_confirmations.update()
                            .where(email_confirmations.c.account_id == account_id,
                                   email_confirmations.c.used_at.is_(None)).values(used_at=now))
        uow.add_event(ACCOUNT_ACTIVATED.build(account_id, {
            "account_id": account_id, "role": account["role"], "pmi_number": account["pmi_number"],
            "method": "password", "email": account["email"] or ""}))
    uow.session.execute(accounts.update().where(accounts.c.id == account_id).values(**values))
    end_every_session(uow, account_id, now)
    tell_password_changed(uow, account, now)
    uow.commit()
    log.info("password reset", extra={"account_id": account_id})
    return _answer(account)


def _usable_link(uow: UnitOfWork, token, now: dt.datetime):
    if not isinstance(token, str) or not token or len(token) > 512:
        raise Refusal("reset_link_invalid")
    link = uow.session.execute(sa.select(password_resets)
                               .where(password_resets.c.token_hash == hash_secret(token))).mappings().first()
    if link is None:
        raise Refusal("reset_link_invalid")
    check_reset_link(link["used_at"], link["expires_at"], now)
    account = account_by_id(uow, link["account_id"])
    if account is None or account["status"] not in _RECOVERABLE_STATUSES:
        raise Refusal("reset_link_invalid")
    return link, account


def _answer(account) -> dict:
    return {"account_type": account_type(account), "display_name": account["display_name"],
            "login": login_of(account)}
