"""What identity does: the agrément events it consumes, activation, e-mail confirmation and sessions.

Plain functions that receive their unit of work and dependencies. Commands get values already parsed by the web
layer, refuse with `Refusal`, and commit only once everything they write (outbox event included) is written. The
signing key is handed in, not fetched here: creating it on first need takes its own transaction, which on SQLite
would wait forever behind the one the command holds.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa
from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from identity.adapters.orm import accounts, agrement_holders, email_confirmations, refresh_tokens
from identity.domain.activation import (
    ACTIVE, CONFIRMATION_LIFETIME, CONFIRMATION_PATH, ELIGIBLE_AGREMENT_STATUSES, PENDING_EMAIL, TICKET_LIFETIME,
    Holder, check_confirmation_link, display_name, issue_ticket, may_activate)
from identity.domain.credentials import (
    hash_password, hash_secret, mask_email, new_secret, parse_pmi_number, password_needs_rehash, verify_password)
from identity.domain.refusals import Refusal
from identity.domain.sessions import ACCESS_TOKEN_LIFETIME, SESSION_LIFETIME, RefreshState, refresh_state
from identity.settings import Settings
from services.auth import issue_token
from services.catalogue import agrement as agrement_events
from services.catalogue.identity import ACCOUNT_ACTIVATED, EMAIL_CONFIRMATION_REQUESTED
from services.db import UnitOfWork
from services.events import Event

log = logging.getLogger("identity.handlers")
ASSMAT = "assmat"


# -- consumed events ---------------------------------------------------------------------------------------------

def project_agrement_holder(uow: UnitOfWork, event: Event) -> None:
    """agrement.granted / modified / withdrawn: keep who may activate. Each event carries the whole state, so
    keeping the newest one converges whatever the order of delivery; an older event changes nothing."""
    pmi_number = parse_pmi_number(event.subject)
    data = event.data
    occurred_at = dt.datetime.fromisoformat(event.occurred_at)
    values = {"birth_date": dt.date.fromisoformat(data["birth_date"]),
              "first_name": (data.get("first_name") or "").strip(), "last_name": (data.get("last_name") or "").strip(),
              "agrement_status": data["status"], "source_occurred_at": occurred_at}
    session = uow.session
    known = session.execute(sa.select(agrement_holders.c.source_occurred_at)
                            .where(agrement_holders.c.pmi_number == pmi_number)).scalar()
    if known is not None and known > occurred_at:
        log.info("older agrément event ignored", extra={"event_id": event.id, "pmi_number": pmi_number})
        return
    if known is None:
        session.execute(agrement_holders.insert().values(pmi_number=pmi_number, **values))
    else:
        session.execute(agrement_holders.update().where(agrement_holders.c.pmi_number == pmi_number).values(**values))
    session.execute(accounts.update().where(accounts.c.pmi_number == pmi_number)
                    .values(display_name=display_name(values["first_name"], values["last_name"])))


HANDLERS = {spec.type: project_agrement_holder for spec in (
    agrement_events.AGREMENT_GRANTED, agrement_events.AGREMENT_MODIFIED, agrement_events.AGREMENT_WITHDRAWN)}


# -- activation --------------------------------------------------------------------------------------------------

def check_activation(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, pmi_number: str,
                     birth_date: dt.date, now: dt.datetime) -> dict:
    """Step 1. Both lookups run whatever the first one found, so every refusal costs the same."""
    holder = _holder(uow, pmi_number)
    account = _account_by_pmi_number(uow, pmi_number)
    if not may_activate(holder, account["status"] if account else None, birth_date):
        raise Refusal("activation_refused")
    pending_email = account["email"] if account else None
    return {"ticket": issue_ticket(signing_key, pmi_number, settings.token_issuer, now),
            "display_name": holder.display_name, "expires_in": int(TICKET_LIFETIME.total_seconds()),
            "pending_email": mask_email(pending_email) if pending_email else None}


def complete_activation(uow: UnitOfWork, settings: Settings, pmi_number: str, email: str, password_hash: str,
                        now: dt.datetime) -> dict:
    """Step 2: create the account, or replace a still-pending one (a mistyped address is fixed by doing step 2
    again; the links sent to the previous address stop working). The password comes hashed: hashing is slow and
    must not hold the transaction open."""
    holder = _holder(uow, pmi_number)
    if holder is None or holder.agrement_status not in ELIGIBLE_AGREMENT_STATUSES:
        raise Refusal("activation_refused")
    account = _account_by_pmi_number(uow, pmi_number)
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
    account = _account_by_pmi_number(uow, pmi_number)
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
    account = _account_by_id(uow, account_id)
    uow.add_event(ACCOUNT_ACTIVATED.build(account_id, {
        "account_id": account_id, "role": account["role"], "pmi_number": account["pmi_number"],
        "method": "password"}))
    uow.commit()
    return account_json(account)


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


# -- sessions ----------------------------------------------------------------------------------------------------

def open_session(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, pmi_number: str, password,
                 now: dt.datetime) -> dict:
    """Login. An unknown number and a wrong password give the same answer after the same hashing work."""
    account = uow.session.execute(sa.select(accounts).where(accounts.c.pmi_number == pmi_number,
                                                            accounts.c.role == ASSMAT)).mappings().first()
    if not verify_password(account["password_hash"] if account else None, password):
        raise Refusal("invalid_credentials")
    # Only said to whoever knows the password, so it reveals nothing to a prober.
    if account["status"] != ACTIVE:
        raise Refusal("email_not_confirmed")
    if password_needs_rehash(account["password_hash"]):
        uow.session.execute(accounts.update().where(accounts.c.id == account["id"])
                            .values(password_hash=hash_password(password)))
    tokens = _issue_tokens(uow, signing_key, settings, account, str(uuid.uuid4()), now + SESSION_LIFETIME, now)
    uow.commit()
    return tokens


def refresh_session(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, refresh_token,
                    now: dt.datetime) -> dict:
    """Exchange a refresh token for a new pair. A token presented a second time ends its whole session: either the
    rightful owner or a thief is replaying it, and only ending the session locks the thief out."""
    row = _refresh_token_row(uow, refresh_token)
    if row is None:
        raise Refusal("session_expired")
    state = refresh_state(row["used_at"], row["revoked_at"], row["expires_at"], now)
    if state is RefreshState.REUSED:
        _revoke_session(uow, row["session_id"], now)
        uow.commit()
    if state is not RefreshState.USABLE:
        raise Refusal("session_expired")
    claimed = uow.session.execute(refresh_tokens.update()
                                  .where(refresh_tokens.c.token_hash == row["token_hash"],
                                         refresh_tokens.c.used_at.is_(None)).values(used_at=now))
    account = _account_by_id(uow, row["account_id"])
    if claimed.rowcount != 1 or account is None or account["status"] != ACTIVE:
        raise Refusal("session_expired")
    tokens = _issue_tokens(uow, signing_key, settings, account, row["session_id"], row["expires_at"], now)
    uow.commit()
    return tokens


def close_session(uow: UnitOfWork, refresh_token, now: dt.datetime) -> None:
    """Logout ends the session the token belongs to; an unknown token is already as good as logged out."""
    row = _refresh_token_row(uow, refresh_token)
    if row is not None:
        _revoke_session(uow, row["session_id"], now)
        uow.commit()


def _issue_tokens(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, account, session_id: str,
                  session_expires_at: dt.datetime, now: dt.datetime) -> dict:
    refresh_token = new_secret()
    uow.session.execute(refresh_tokens.insert().values(
        token_hash=hash_secret(refresh_token), session_id=session_id, account_id=account["id"], created_at=now,
        expires_at=session_expires_at))
    lifetime = int(ACCESS_TOKEN_LIFETIME.total_seconds())
    access_token = issue_token(signing_key, subject=account["id"], role=account["role"],
                               issuer=settings.token_issuer, audience=settings.token_audience,
                               lifetime_seconds=lifetime,
                               extra={"pmi_number": account["pmi_number"], "name": account["display_name"]})
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime,
            "refresh_token": refresh_token, "account": account_json(account)}


def _refresh_token_row(uow: UnitOfWork, refresh_token):
    if not isinstance(refresh_token, str):
        return None
    return uow.session.execute(sa.select(refresh_tokens)
                               .where(refresh_tokens.c.token_hash == hash_secret(refresh_token))).mappings().first()


def _revoke_session(uow: UnitOfWork, session_id: str, now: dt.datetime) -> None:
    uow.session.execute(refresh_tokens.update().where(refresh_tokens.c.session_id == session_id,
                                                      refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=now))


# -- reads -------------------------------------------------------------------------------------------------------

def account_json(account) -> dict:
    return {key: account[key] for key in ("id", "role", "pmi_number", "display_name", "email")}


def find_account(uow: UnitOfWork, account_id: str) -> dict | None:
    account = _account_by_id(uow, account_id)
    return account_json(account) if account else None


def _holder(uow: UnitOfWork, pmi_number: str) -> Holder | None:
    row = uow.session.execute(sa.select(agrement_holders)
                              .where(agrement_holders.c.pmi_number == pmi_number)).mappings().first()
    if row is None:
        return None
    return Holder(row["pmi_number"], row["birth_date"], row["first_name"], row["last_name"], row["agrement_status"])


def _account_by_pmi_number(uow: UnitOfWork, pmi_number: str):
    return uow.session.execute(sa.select(accounts).where(accounts.c.pmi_number == pmi_number)).mappings().first()


def _account_by_id(uow: UnitOfWork, account_id: str):
    return uow.session.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().first()
