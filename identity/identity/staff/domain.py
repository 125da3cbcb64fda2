"""Staff accounts' rules: their roles, and the TOTP second factor (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits).

A small implementation rather than a dependency: the algorithm is a few lines, and owning it lets us return the time
step a code matched, which is what keeps a code from being accepted twice.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

from identity.accounts.domain import PMI_AGENT, STAFF_ROLES

TOTP_PERIOD = 30
TOTP_DIGITS = 6
# One step either side: a phone clock a little off, or a code typed just as it changed, still works.
TOTP_DRIFT_STEPS = 1
TOTP_ISSUER = "Portail assmat PMI"
_SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation for HMAC-SHA1


class StaffInputError(ValueError):
    """What the `staff` command refuses, said in French."""


def new_totp_secret() -> str:
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def time_step(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // TOTP_PERIOD


def hotp(secret: str, counter: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** TOTP_DIGITS:0{TOTP_DIGITS}d}"


def totp(secret: str, moment: dt.datetime) -> str:
    return hotp(secret, time_step(moment))


def matching_step(secret: str, code, moment: dt.datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within the drift allowed), or None. A step at or before `last_step` (the
    last one accepted) never matches: a code seen once, by a shoulder or a proxy, is dead. Every candidate is
    compared, in constant time, so the time taken says nothing about which one matched."""
    if not isinstance(code, str):
        return None
    code = code.replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        code = "x" * TOTP_DIGITS
    now_step = time_step(moment)
    found = None
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(secret, step).encode(), code.encode()) and (last_step is None or step > last_step):
            found = step
    return found


def otpauth_uri(secret: str, email: str) -> str:
    """What an authenticator app reads (as a QR code or pasted): Google's Key Uri Format."""
    label = quote(f"{TOTP_ISSUER}:{email}")
    query = urlencode({"secret": secret, "issuer": TOTP_ISSUER, "algorithm": "SHA1", "digits": TOTP_DIGITS,
                       "period": TOTP_PERIOD}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"


def check_roles(roles: list[str], circonscriptions: list[str]) -> list[str]:
    """The roles as given, in order, without repeats; a PMI agent works for at least one circonscription."""
    roles = list(dict.fromkeys(role.strip() for role in roles if role.strip()))
    if not roles:
        raise StaffInputError("Indiquez au moins un rôle (--role).")
    unknown = [role for role in roles if role not in STAFF_ROLES]
    if unknown:
        raise StaffInputError(f"Rôle inconnu : {', '.join(unknown)} (rôles possibles : {', '.join(STAFF_ROLES)}).")
    if PMI_AGENT in roles and not [name for name in circonscriptions if name.strip()]:
        raise StaffInputError("Un agent de PMI (pmi_agent) est rattaché à au moins une circonscription "
                              "(--circonscription).")
    if "," in "".join(circonscriptions):
        raise StaffInputError("Un nom de circonscription ne peut pas contenir de virgule.")
    return roles
