"""Sessions: login, refresh-token rotation, logout.

Plain functions that receive their unit of work and dependencies, refuse with `Refusal`, and commit once
everything they write is written. The signing key is handed in, not fetched here (see identity.activation.commands).
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from joserfc.jwk import RSAKey

from identity.accounts.domain import ACTIVE, ASSMAT
from identity.accounts.domain.credentials import (
    hash_password, hash_secret, new_secret, password_needs_rehash, verify_password)
from identity.accounts.domain.refusals import Refusal
from identity.accounts.queries import account_by_id, account_json
from identity.adapters.orm import accounts, refresh_tokens
from identity.sessions.domain import ACCESS_TOKEN_LIFETIME, SESSION_LIFETIME, RefreshState, refresh_state
from identity.settings import Settings
from services.auth import issue_token
from services.db import UnitOfWork


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


def open_session_for(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, account, now: dt.datetime) -> dict:
    """A new session for an account another capability has already authenticated (FranceConnect); the caller
    commits."""
    return _issue_tokens(uow, signing_key, settings, account, str(uuid.uuid4()), now + SESSION_LIFETIME, now)


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
    account = account_by_id(uow, row["account_id"])
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
