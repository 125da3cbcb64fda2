"""Reading accounts, and the shape every answer gives of one."""
from __future__ import annotations

import sqlalchemy as sa

from identity.adapters.orm import accounts
from services.db import UnitOfWork


def account_json(account) -> dict:
    return {key: account[key] for key in ("id", "role", "pmi_number", "display_name", "email")}


def find_account(uow: UnitOfWork, account_id: str) -> dict | None:
    account = account_by_id(uow, account_id)
    return account_json(account) if account else None


def account_by_pmi_number(uow: UnitOfWork, pmi_number: str):
    return uow.session.execute(sa.select(accounts).where(accounts.c.pmi_number == pmi_number)).mappings().first()


def account_by_id(uow: UnitOfWork, account_id: str):
    return uow.session.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().first()
