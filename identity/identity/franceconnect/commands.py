"""FranceConnect sign-in: start (state and nonce kept single-use in the expiring store), finish (the code
exchanged, both tokens verified, then link at activation or log a linked account in), and the end-session URL.

`begin` and `finish` receive the store and the provider's client; the database work is in plain functions that
receive their unit of work, commit once, and refuse with FranceConnectRefusal.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import uuid

import sqlalchemy as sa
from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from identity.accounts.domain import ACTIVE, ASSMAT, PENDING_EMAIL
from identity.accounts.queries import account_by_id, account_by_pmi_number
from identity.activation.domain import ELIGIBLE_AGREMENT_STATUSES
from identity.adapters.orm import accounts, email_confirmations, franceconnect_links
from identity.accounts.gates import audit
from identity.franceconnect.client import FranceConnectClient
from identity.franceconnect.domain.matching import identity_matches_holder
from identity.franceconnect.domain.refusals import FranceConnectRefusal
from identity.holders.queries import find_holder
from identity.sessions.commands import issue_session
from identity.settings import Settings
from services.catalogue.identity import ACCOUNT_ACTIVATED
from services.db import UnitOfWork
from services.expiring import ExpiringStore

log = logging.getLogger("identity.franceconnect")

ACTIVATION, LOGIN = "activation", "login"
PURPOSES = (ACTIVATION, LOGIN)
STATE_LIFETIME_SECONDS = 600       # time to choose an identity at FranceConnect and come back
LOGOUT_STATE_LIFETIME_SECONDS = 600
_STATE_KEY, _LOGOUT_KEY = "fc:state:", "fc:logout:"


def _random() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits: above FranceConnect's 32-character minimum


def _sub_digest(sub: str) -> str:
    """Logs and audit name a FranceConnect identity by a digest, never by its sub."""
    return hashlib.sha256(sub.encode()).hexdigest()[:16]


def begin(store: ExpiringStore, client: FranceConnectClient, purpose: str, pmi_number: str | None,
          now: dt.datetime) -> dict:
    """A fresh state and nonce, kept together for one callback; the URL to send the browser to."""
    if purpose not in PURPOSES:
        raise FranceConnectRefusal("invalid_purpose")
    state, nonce = _random(), _random()
    url = client.authorization_url(state, nonce)  # fails before anything is stored when FranceConnect is down
    store.put(_STATE_KEY + state, json.dumps({"nonce": nonce, "purpose": purpose, "pmi_number": pmi_number}),
              STATE_LIFETIME_SECONDS, now=now.timestamp())
    return {"authorization_url": url, "state": state, "expires_in": STATE_LIFETIME_SECONDS}


def verified_identity(store: ExpiringStore, client: FranceConnectClient, state, code,
                      now: dt.datetime) -> tuple[dict, dict, dict]:
    """(what the state was issued for, the id_token's claims, the userinfo) once everything checked; the state is
    taken first, so it serves once whatever happens next."""
    if not isinstance(state, str) or not 32 <= len(state) <= 128:
        raise FranceConnectRefusal("state_invalid", "malformed state")
    stored = store.take(_STATE_KEY + state, now=now.timestamp())
    if stored is None:
        raise FranceConnectRefusal("state_invalid", "unknown, expired or replayed state")
    request = json.loads(stored)
    if not isinstance(code, str) or not code or len(code) > 2048:
        raise FranceConnectRefusal("code_invalid", "malformed code")
    token = client.exchange_code(code)
    id_claims = client.check_id_token(token["id_token"], request["nonce"])
    userinfo = client.userinfo(token, id_claims["sub"])
    return request, {**id_claims, "id_token": token["id_token"]}, userinfo


def link_at_activation(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, pmi_number: str, sub: str,
                       userinfo: dict, now: dt.datetime) -> dict:
    """Activation by FranceConnect: the sub is linked to the PMI number's account (created, or a pending one made
    active) only when FranceConnect's birth date and birth name are the agrément's. The account needs no e-mail."""
    holder = find_holder(uow, pmi_number)
    if holder is None or holder.agrement_status not in ELIGIBLE_AGREMENT_STATUSES:
        raise FranceConnectRefusal("identity_mismatch", "agrément not eligible any more")
    if not identity_matches_holder(userinfo, holder.birth_date, holder.birth_name, holder.last_name):
        raise FranceConnectRefusal("identity_mismatch", f"pmi {pmi_number}: birth date or name differ")
    owner = uow.session.execute(sa.select(franceconnect_links.c.account_id)
                                .where(franceconnect_links.c.sub == sub)).scalar()
    account = account_by_pmi_number(uow, pmi_number)
    if owner is not None and (account is None or owner != account["id"]):
        raise FranceConnectRefusal("already_linked", f"sub {_sub_digest(sub)} linked to another account")
    if account is not None and account["status"] == ACTIVE:
        # Step 1 refuses an active account, so only a race gets here; its existing credentials stay as they are.
        raise FranceConnectRefusal("account_unavailable", "account already active")
    if account is None:
        account_id = str(uuid.uuid4())
        uow.session.execute(accounts.insert().values(
            id=account_id, role=ASSMAT, pmi_number=pmi_number, email=None, password_hash=None,
            display_name=holder.display_name, status=ACTIVE, created_at=now, activated_at=now))
    else:
        account_id = account["id"]
        # A pending account's e-mail and password were given at step 2 by whoever passed step 1, and were never
        # confirmed: they may be an impostor's or a typo, so they do not survive an activation proved by
        # FranceConnect. Its unused links die with them.
        assert account["status"] == PENDING_EMAIL
        uow.session.execute(accounts.update().where(accounts.c.id == account_id).values(
            email=None, password_hash=None, status=ACTIVE, activated_at=now, display_name=holder.display_name))
        uow.session.execute(email_confirmations.delete().where(email_confirmations.c.account_id == account_id))
    if owner is None:
        uow.session.execute(franceconnect_links.insert().values(sub=sub, account_id=account_id, linked_at=now))
    uow.add_event(ACCOUNT_ACTIVATED.build(account_id, {
        "account_id": account_id, "role": ASSMAT, "pmi_number": pmi_number, "method": "franceconnect",
        "email": ""}))  # the account has no address yet: the one given at step 2 did not survive
    audit(uow, "franceconnect_activation", "success", account_id=account_id, identifier=pmi_number,
          detail=f"sub {_sub_digest(sub)}")
    answer = issue_session(uow, signing_key, settings, account_by_id(uow, account_id), now)
    try:
        uow.commit()
    except IntegrityError:  # a concurrent activation linked or created first
        raise FranceConnectRefusal("already_linked", "concurrent link") from None
    return answer


def login_linked(uow: UnitOfWork, signing_key: RSAKey, settings: Settings, sub: str, now: dt.datetime) -> dict:
    """Login by FranceConnect: the account linked to the sub, active; the e-mail plays no part."""
    account_id = uow.session.execute(sa.select(franceconnect_links.c.account_id)
                                     .where(franceconnect_links.c.sub == sub)).scalar()
    if account_id is None:
        raise FranceConnectRefusal("not_linked", f"sub {_sub_digest(sub)} not linked")
    account = account_by_id(uow, account_id)
    # Only assmat accounts are ever linked (MAM, RPE and staff accounts are not offered FranceConnect).
    if account is None or account["status"] != ACTIVE or account["role"] != ASSMAT:
        raise FranceConnectRefusal("account_unavailable", f"account {account_id} not an active assmat")
    audit(uow, "franceconnect_login", "success", account_id=account_id, identifier=account["pmi_number"],
          detail=f"sub {_sub_digest(sub)}")
    answer = issue_session(uow, signing_key, settings, account, now)
    uow.commit()
    return answer


def end_session(store: ExpiringStore, client: FranceConnectClient, settings: Settings, id_token,
                now: dt.datetime) -> dict:
    """Where to send the browser so that FranceConnect's session ends too; the state comes back on return."""
    if not isinstance(id_token, str) or not id_token or len(id_token) > 16_384:
        raise FranceConnectRefusal("token_invalid", "malformed id_token_hint")
    state = _random()
    store.put(_LOGOUT_KEY + state, "1", LOGOUT_STATE_LIFETIME_SECONDS, now=now.timestamp())
    url = client.end_session_url(id_token, state, settings.public_base_url.rstrip("/") + "/")
    return {"end_session_url": url, "state": state}


def check_logout_return(store: ExpiringStore, state, now: dt.datetime) -> bool:
    """The state FranceConnect hands back after end-session: one we issued, used once."""
    return (isinstance(state, str) and 32 <= len(state) <= 128
            and store.take(_LOGOUT_KEY + state, now=now.timestamp()) is not None)
