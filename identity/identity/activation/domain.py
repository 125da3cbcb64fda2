"""Activating an assmat's account: who may, the ticket between the two steps, the confirmation link.

Step 1 checks the PMI number and the birth date against the projection of the agréments and hands out a ticket;
step 2 (e-mail and password) needs that ticket; the account becomes active when the link mailed to the address is
followed.
"""
from __future__ import annotations

import datetime as dt
import hmac

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from identity.accounts.domain import ACTIVE
from identity.accounts.domain.refusals import Refusal
from identity.holders.domain import Holder

# A suspended, withdrawn or expired agrément cannot open an account; a temporary stop keeps the agrément.
ELIGIBLE_AGREMENT_STATUSES = frozenset({"active", "temporary_stop"})

TICKET_LIFETIME = dt.timedelta(minutes=15)
TICKET_AUDIENCE = "assmat-activation"
CONFIRMATION_LIFETIME = dt.timedelta(hours=48)
CONFIRMATION_PATH = "/espace-pro/activation/confirmer?jeton="

_TICKET_ALGORITHM = "RS256"
_TICKET_MAX_LENGTH = 4096
# Same length as a real ISO date, so the comparison below costs the same when the number is unknown.
_NO_BIRTH_DATE = b"0000-00-00"
# What an unknown number is checked against, so that its answer costs what a known one's does.
_NO_HOLDER = Holder("000000", dt.date(1, 1, 1), "", "", "none", validity_start=dt.date(1, 1, 1),
                    validity_end=dt.date(1, 1, 1))


def may_activate(holder: Holder | None, account_status: str | None, birth_date: dt.date,
                 today: dt.date | None = None) -> bool:
    """Step 1's single yes or no. An unknown number, a wrong birth date, an agrément that does not allow it (its
    status, or a validity that has not started or has ended) and an account already active all give the same no,
    after the same work: every condition is evaluated whatever the others gave (no short-circuit), so the endpoint
    tells nobody who holds an agrément or an account. A pending account with the right date passes: she may give
    another address."""
    expected = holder.birth_date.isoformat().encode() if holder else _NO_BIRTH_DATE
    birth_date_matches = hmac.compare_digest(expected, birth_date.isoformat().encode())
    eligible = holder is not None and holder.agrement_status in ELIGIBLE_AGREMENT_STATUSES
    valid = within_validity(holder, today) if holder is not None else within_validity(_NO_HOLDER, today)
    return birth_date_matches & eligible & valid & (account_status != ACTIVE)


def paris_today(now: dt.datetime) -> dt.date:
    """The day in France: an agrément ends at the end of its last day there, not at midnight UTC."""
    from zoneinfo import ZoneInfo
    return now.astimezone(ZoneInfo("Europe/Paris")).date()


def within_validity(holder: Holder, today: dt.date | None) -> bool:
    """The agrément's validity dates, when the extract gives them: not before its start, not after its end."""
    if today is None:
        return True
    started = holder.validity_start is None or holder.validity_start <= today
    not_ended = holder.validity_end is None or today <= holder.validity_end
    return started & not_ended


def issue_ticket(key: RSAKey, pmi_number: str, issuer: str, now: dt.datetime) -> str:
    """A signed proof that step 1 succeeded for this PMI number, valid for TICKET_LIFETIME. Its audience keeps it
    from ever passing for an access token (and an access token from passing for it)."""
    claims = {"iss": issuer, "aud": TICKET_AUDIENCE, "sub": pmi_number, "iat": int(now.timestamp()),
              "exp": int((now + TICKET_LIFETIME).timestamp())}
    return jwt.encode({"alg": _TICKET_ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)


def read_ticket(ticket, keys: list[RSAKey], issuer: str, now: dt.datetime) -> str:
    """The PMI number a ticket was issued for, or a refusal (ticket_invalid, ticket_expired)."""
    if not isinstance(ticket, str) or len(ticket) > _TICKET_MAX_LENGTH:
        raise Refusal("ticket_invalid")
    try:
        claims = jwt.decode(ticket, KeySet(keys), algorithms=[_TICKET_ALGORITHM]).claims
    except (JoseError, ValueError, UnicodeError):
        raise Refusal("ticket_invalid") from None
    pmi_number, expires = claims.get("sub"), claims.get("exp")
    if claims.get("aud") != TICKET_AUDIENCE or claims.get("iss") != issuer or not isinstance(pmi_number, str) \
            or not isinstance(expires, int):
        raise Refusal("ticket_invalid")
    if expires <= now.timestamp():
        raise Refusal("ticket_expired")
    return pmi_number


def check_confirmation_link(used_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime) -> None:
    """A confirmation link works once, before it expires; a used one says so, since the account is then active."""
    if used_at is not None:
        raise Refusal("link_used")
    if expires_at <= now:
        raise Refusal("link_expired")
