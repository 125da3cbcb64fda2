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
# The kind of account that signs in, as tokens say it (`account_type`); staff accounts hold the PMI's roles.
STRUCTURE_TYPES = (MAM, RPE)


def split_list(value) -> list[str]:
    """A comma-separated column (or a list) as a list without blanks or repeats, in its order."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(item.strip() for item in items if item and item.strip()))


def join_list(values) -> str:
    return ",".join(split_list(list(values)))


def account_roles(account) -> list[str]:
    """Every role of an account: its `roles` column (comma separated) when it has one and it is not empty, else its
    single `role`. The main `role` always comes first, so a token's `role` and `roles` agree."""
    roles = split_list(account.get("roles")) if "roles" in account else []
    role = account["role"]
    return [role, *[item for item in roles if item != role]] if role else roles


def account_type(account) -> str:
    """assmat, mam, rpe or staff, read from the role (an assmat, MAM or RPE account holds that role; every other
    role is PMI staff)."""
    role = account["role"]
    return role if role in (ASSMAT, *STRUCTURE_TYPES) else STAFF


def account_circonscriptions(account) -> list[str]:
    """The circonscriptions of a PMI agent (comma separated in its `circonscriptions` column), else none."""
    return split_list(account.get("circonscriptions")) if "circonscriptions" in account else []


def role_for_type(kind: str) -> str | None:
    """The role an account type stands for on the public forms (None: not one of them). Staff are not among
    them: their links come from the `staff` command."""
    return kind if kind in (ASSMAT, MAM, RPE) else None
