"""What a person types or receives: PMI number, birth date, e-mail, password, and the secrets put in links."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from identity.accounts.domain.refusals import Refusal
from services import validators

PASSWORD_MIN_LENGTH = 12
# Long enough for any passphrase, short enough that nobody makes us hash megabytes.
PASSWORD_MAX_LENGTH = 200

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Pragmatic rather than RFC 5322: what mail providers hand out, and nothing (spaces, quotes, commas, angle
# brackets) that could confuse a mail header.
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@(?:[\w-]+\.)+[\w-]{2,}")
_EMAIL_MAX_LENGTH = 254

# argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()


def parse_pmi_number(value) -> str:
    """The 6-digit number; spaces typed between the digits are forgiven."""
    try:
        return validators.parse_pmi_number(value, allow_spaces=True)
    except ValueError:
        raise Refusal("invalid_pmi_number") from None


def parse_birth_date(value) -> dt.date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Refusal("invalid_birth_date")


def normalize_email(value) -> str:
    """Lower case: addresses are compared and stored case-insensitively."""
    if isinstance(value, str):
        email = value.strip().lower()
        if len(email) <= _EMAIL_MAX_LENGTH and _EMAIL.fullmatch(email):
            return email
    raise Refusal("invalid_email")


def mask_email(email: str) -> str:
    """Enough to recognise one's address (and its provider) without handing it out: 'ma•••@orange.fr'."""
    local, _, domain = email.partition("@")
    return f"{local[:2] if len(local) > 3 else local[:1]}•••@{domain}"


def check_password_policy(value) -> str:
    if not isinstance(value, str) or len(value) < PASSWORD_MIN_LENGTH:
        raise Refusal("weak_password")
    if len(value) > PASSWORD_MAX_LENGTH:
        raise Refusal("password_too_long")
    return value


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password) -> bool:
    """With no stored hash (unknown account) a dummy one is checked, so the answer takes as long either way."""
    if not isinstance(password, str) or len(password) > PASSWORD_MAX_LENGTH:
        password = ""
    try:
        matches = _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and stored_hash is not None


def password_needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_secret() -> str:
    """An unguessable, URL-safe secret for a link or a refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Only this digest is stored: a leaked table gives no usable link or token. SHA-256 suffices because the
    secret is random (no dictionary to try), unlike a password."""
    return hashlib.sha256(secret.encode()).hexdigest()
