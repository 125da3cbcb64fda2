"""An account's kind, roles and status; beside them, credentials (what a person types or receives) and refusals.

Rules only: no Flask, no SQLAlchemy session, no kombu.

Every kind of account lives in one table. `role` is the account's main role (a value of services.auth.ROLES);
staff accounts may hold several, listed comma-separated in `roles`. The account type (assmat, mam, rpe, staff) is
what a person picks on the forgotten-password form and what tokens carry.
"""
from __future__ import annotations

ASSMAT, MAM, RPE = "assmat", "mam", "rpe"
PMI_AGENT, PMI_CENTRAL, SUPPORT, ADMIN = "pmi_agent", "pmi_central", "support", "admin"
STAFF_ROLES = (PMI_AGENT, PMI_CENTRAL, SUPPORT, ADMIN)
STAFF = "staff"  # an account type, never a role

PENDING_EMAIL, ACTIVE = "pending_email", "active"
# A structure closed in the extract, or a staff account disabled by command: no login, no reset, sessions ended.
DISABLED = "disabled"


def split_list(value: str | None) -> list[str]:
    return [item for item in (value or "").split(",") if item]


def join_list(values) -> str:
    return ",".join(dict.fromkeys(value.strip() for value in values if value.strip()))


def account_roles(account) -> list[str]:
    """The roles a token should carry: the `roles` column when it is set (staff), else the one `role`."""
    roles = split_list(account.get("roles") if hasattr(account, "get") else None)
    return roles or [account["role"]]


def account_type(account) -> str:
    role = account["role"]
    return STAFF if role in STAFF_ROLES else role


def role_for_type(kind: str) -> str | None:
    """The role an account type stands for on the public forms (None: not one of them). Staff are not among
    them: their links come from the `staff` command."""
    return kind if kind in (ASSMAT, MAM, RPE) else None
