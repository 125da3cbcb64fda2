"""Staff accounts: create, disable, hand out a password link, log in with password and TOTP.

Plain functions that receive their unit of work; the `staff` command (cli.py) and the login route call them.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from joserfc.jwk import RSAKey

from identity.accounts import gates
from identity.accounts.commands import end_every_session
from identity.accounts.domain import ACTIVE, DISABLED, STAFF_ROLES, join_list, split_list
from identity.accounts.domain.credentials import (
    hash_password, password_needs_rehash, verify_password)
from identity.accounts.domain.refusals import Refusal
from identity.adapters.orm import accounts
from identity.recovery.commands import issue_link
from identity.recovery.domain import STAFF_LINK_LIFETIME
from identity.sessions.commands import issue_session
from identity.settings import Settings
from identity.staff.domain import StaffInputError, check_roles, matching_step, new_totp_secret, otpauth_uri
from services.db import UnitOfWork

# A secret the dummy TOTP check runs against when the address is unknown, so that case costs the same.
_DUMMY_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _staff_by_email(uow: UnitOfWork, email: str):
    return uow.session.execute(sa.select(accounts).where(accounts.c.email == email,
                                                         accounts.c.role.in_(STAFF_ROLES))).mappings().first()


def create_staff(uow: UnitOfWork, settings: Settings, email: str, name: str, roles: list[str],
                 circonscriptions: list[str], now: dt.datetime) -> dict:
    """A new staff account, active but without a password: its owner sets one through the link returned (printed
    once), and adds the TOTP secret (the otpauth URI, printed once) to an authenticator app."""
    roles = check_roles(roles, circonscriptions)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise StaffInputError("Indiquez le nom de la personne (--name, 200 caractères au plus).")
    if uow.session.execute(sa.select(accounts.c.id).where(accounts.c.email == email)).scalar() is not None:
        raise StaffInputError("Cette adresse e-mail est déjà celle d'un compte.")
    secret = new_totp_secret()
    account_id = str(uuid.uuid4())
    uow.session.execute(accounts.insert().values(
        id=account_id, role=roles[0], roles=join_list(roles), circonscriptions=join_list(circonscriptions) or None,
        email=email, display_name=name, status=ACTIVE, created_at=now, activated_at=now, totp_secret=secret))
    link = issue_link(uow, settings, account_id, STAFF_LINK_LIFETIME, now)
    uow.commit()
    return {"account_id": account_id, "otpauth_uri": otpauth_uri(secret, email), "password_link": link,
            "link_expires_at": (now + STAFF_LINK_LIFETIME).isoformat()}


def disable_staff(uow: UnitOfWork, email: str, now: dt.datetime) -> None:
    account = _staff_by_email(uow, email)
    if account is None:
        raise StaffInputError("Aucun compte du personnel n'a cette adresse e-mail.")
    uow.session.execute(accounts.update().where(accounts.c.id == account["id"]).values(status=DISABLED))
    end_every_session(uow, account["id"], now)
    uow.commit()


def staff_password_link(uow: UnitOfWork, settings: Settings, email: str, now: dt.datetime) -> str:
    """A new link to set the password (forgotten, or the first link expired); the TOTP secret stays."""
    account = _staff_by_email(uow, email)
    if account is None or account["status"] != ACTIVE:
        raise StaffInputError("Aucun compte du personnel actif n'a cette adresse e-mail.")
    link = issue_link(uow, settings, account["id"], STAFF_LINK_LIFETIME, now)
    uow.commit()
    return link


def new_staff_totp(uow: UnitOfWork, email: str, now: dt.datetime) -> str:
    """A lost phone: a new TOTP secret (the old one stops working at once) and every session ended. Returns the
    otpauth URI, to print once."""
    account = _staff_by_email(uow, email)
    if account is None or account["status"] != ACTIVE:
        raise StaffInputError("Aucun compte du personnel actif n'a cette adresse e-mail.")
    secret = new_totp_secret()
    uow.session.execute(accounts.update().where(accounts.c.id == account["id"])
                        .values(totp_secret=secret, totp_last_step=None))
    end_every_session(uow, account["id"], now)
    uow.commit()
    return otpauth_uri(secret, email)


def open_staff_session(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, email: str, password, code,
                       ip: str, now: dt.datetime) -> dict:
    """Login: the password and the TOTP code are both checked whatever the first check found (an unknown address
    costs the same), one answer for any wrong part. Every attempt is audited, in the transaction that commits."""
    account = _staff_by_email(uow, email)
    password_ok = verify_password(account["password_hash"] if account else None, password)
    # A staff account always has a secret; should one lack it, the dummy is checked and the login refused below.
    step = matching_step((account["totp_secret"] if account else None) or _DUMMY_TOTP_SECRET, code, now,
                         account["totp_last_step"] if account else None)
    account_id = account["id"] if account else None
    if not (password_ok and step is not None and account["totp_secret"]):
        gates.audit(uow, "staff_login", "refused", account_id=account_id, identifier=email, ip=ip,
                    detail="password" if not password_ok else "totp")
        uow.commit()
        raise Refusal("staff_login_refused")
    if account["status"] != ACTIVE:
        gates.audit(uow, "staff_login", "refused", account_id=account_id, identifier=email, ip=ip,
                    detail="disabled")
        uow.commit()
        raise Refusal("account_disabled")
    # Claim the step: of two logins with the same code at the same moment, one wins.
    claimed = uow.session.execute(accounts.update().where(
        accounts.c.id == account_id,
        sa.or_(accounts.c.totp_last_step.is_(None), accounts.c.totp_last_step < step)).values(totp_last_step=step))
    if claimed.rowcount != 1:
        uow.session.rollback()
        gates.audit(uow, "staff_login", "refused", account_id=account_id, identifier=email, ip=ip,
                    detail="totp_replayed")
        uow.commit()
        raise Refusal("staff_login_refused")
    if password_needs_rehash(account["password_hash"]):
        uow.session.execute(accounts.update().where(accounts.c.id == account_id)
                            .values(password_hash=hash_password(password)))
    gates.audit(uow, "staff_login", "success", account_id=account_id, identifier=email, ip=ip)
    tokens = issue_session(uow, signing_key, settings, account, now)
    uow.commit()
    return tokens


def staff_json(account) -> dict:
    return {"id": account["id"], "display_name": account["display_name"], "email": account["email"],
            "role": account["role"], "roles": split_list(account["roles"]) or [account["role"]],
            "circonscriptions": split_list(account["circonscriptions"]), "account_type": "staff"}
