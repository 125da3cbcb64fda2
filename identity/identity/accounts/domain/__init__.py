"""An account's role and status; beside them, credentials (what a person types or receives) and refusals.

Rules only: no Flask, no SQLAlchemy session, no kombu.
"""
from __future__ import annotations

# Only assmat accounts exist today; MAM, RPE and staff accounts will be other roles of the same table.
ASSMAT = "assmat"
PENDING_EMAIL, ACTIVE = "pending_email", "active"

# The kind of account that signs in, as tokens say it (`account_type`); staff accounts hold the PMI's roles.
STRUCTURE_TYPES = ("mam", "rpe")
STAFF = "staff"


def _listed(value) -> list[str]:
    """A comma-separated column (or a list) as a list without blanks or repeats, in its order."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def account_roles(account) -> list[str]:
    """Every role of an account: its `roles` column (comma separated) when it has one and it is not empty, else its
    single `role`. The main `role` always comes first, so a token's `role` and `roles` agree."""
    roles = _listed(account.get("roles")) if "roles" in account else []
    role = account["role"]
    return [role, *[item for item in roles if item != role]] if role else roles


def account_type(account) -> str:
    """assmat, mam, rpe or staff: the account's own `account_type` column when it has one, else read from its role
    (an assmat, MAM or RPE account holds that role; every other role is PMI staff)."""
    if "account_type" in account and account.get("account_type"):
        return account["account_type"]
    role = account["role"]
    return role if role in (ASSMAT, *STRUCTURE_TYPES) else STAFF


def account_circonscriptions(account) -> list[str]:
    """The circonscriptions of a PMI agent (comma separated in its `circonscriptions` column), else none."""
    return _listed(account.get("circonscriptions")) if "circonscriptions" in account else []
