"""Writes every capability may need on an account: ending all its sessions, telling its owner of a change."""
from __future__ import annotations

import datetime as dt

from identity.accounts.domain import account_type
from identity.adapters.orm import refresh_tokens
from services.catalogue.identity import PASSWORD_CHANGED
from services.db import UnitOfWork


def end_every_session(uow: UnitOfWork, account_id: str, now: dt.datetime) -> None:
    """Revoke every refresh token of the account: each of its sessions ends at its next refresh (within the
    access token's 15 minutes at most), whatever browser holds it."""
    uow.session.execute(refresh_tokens.update().where(refresh_tokens.c.account_id == account_id,
                                                      refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=now))


def tell_password_changed(uow: UnitOfWork, account, now: dt.datetime) -> None:
    """The owner learns of every change of password, so that one made by someone else does not go unnoticed."""
    if account["email"]:
        uow.add_event(PASSWORD_CHANGED.build(account["id"], {
            "account_id": account["id"], "email": account["email"], "display_name": account["display_name"],
            "account_type": account_type(account), "changed_at": now.isoformat()}))


def login_of(account) -> str:
    """What the person types to log in: the PMI number for an assmat who has one, else the e-mail."""
    return account["pmi_number"] or account["email"]
