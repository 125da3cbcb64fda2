"""What a person types or receives: PMI number, birth date, e-mail, password, and the secrets put in links."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
import unicodedata
from pathlib import Path

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

# argon2id with OWASP's first recommendation (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane. It costs
# a login a few tens of milliseconds, which keeps dozens of logins a second possible on one core, while a stolen
# hash costs an attacker 19 MiB of memory per guess. A hash made with other parameters (argon2-cffi's defaults,
# before) is rehashed at the next successful login (`password_needs_rehash`).
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)

# The portal's own words: the first thing someone who knows the site tries. Compared without accents, case,
# spaces or punctuation.
PORTAL_WORDS = ("assmat", "assistantematernelle", "assistantmaternel", "assistantsmaternels", "pmi", "portail",
                "eureetloir", "espacepro", "agrement", "departement", "nounou")
_COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


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


def check_password_policy(value, *, identifiers=(), birth_date: dt.date | None = None,
                          extra_words=()) -> str:
    """NIST SP 800-63B's rules, no composition rules: at least 12 characters; not a common password (alone, or
    padded with digits and symbols, or repeated); not one character repeated; not containing the identifier (PMI
    number, e-mail or its local part), the birth date in its usual French spellings, or the portal's own words
    (plus `extra_words`, e.g. the département's name). Returns the password unchanged."""
    if not isinstance(value, str) or len(value) < PASSWORD_MIN_LENGTH:
        raise Refusal("weak_password")
    if len(value) > PASSWORD_MAX_LENGTH:
        raise Refusal("password_too_long")
    if len(set(value)) == 1:
        raise Refusal("repetitive_password")
    folded = _fold(value)
    digits = "".join(ch for ch in value if ch.isdigit())
    for identifier in identifiers:
        for part in _identifier_parts(identifier):
            if part and part in folded:
                raise Refusal("password_contains_identifier")
    if birth_date is not None:
        compact = value.replace(" ", "")
        if any(spelling in compact or spelling in digits for spelling in birth_date_spellings(birth_date)):
            raise Refusal("password_contains_birth_date")
    words = [*PORTAL_WORDS, *(_fold(word) for word in extra_words)]
    if any(word and word in folded for word in words):
        raise Refusal("password_contains_portal_words")
    if _is_common(value):
        raise Refusal("common_password")
    return value


def _fold(text: str) -> str:
    """Lower case, accents dropped, only letters and digits kept: 'Éure-et-Loir' → 'eureetloir'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def _identifier_parts(identifier) -> list[str]:
    """What of an identifier must not be in a password: a PMI number whole; an e-mail whole and its local part,
    and each of its words of 4 letters or more ('marie.dupont' → 'marie', 'dupont')."""
    value = str(identifier or "").strip().lower()
    if not value:
        return []
    if "@" not in value:
        folded = _fold(value)
        return [folded] if len(folded) >= 4 else []
    local = value.partition("@")[0]
    parts = [_fold(value), _fold(local)]
    parts += [_fold(word) for word in re.split(r"[._+-]", local) if len(_fold(word)) >= 4]
    return [part for part in parts if len(part) >= 4]


def birth_date_spellings(birth_date: dt.date) -> set[str]:
    """17/05/1980 as people write it: 17051980, 170580, 19800517, 17-05-1980, 1980-05-17, 17.05.1980, 17/5/1980..."""
    d, m, y = birth_date.day, birth_date.month, birth_date.year
    spellings = set()
    for day in {f"{d:02d}", str(d)}:
        for month in {f"{m:02d}", str(m)}:
            for year in (f"{y:04d}", f"{y % 100:02d}"):
                for sep in ("", "/", "-", ".", " "):
                    spellings.add(f"{day}{sep}{month}{sep}{year}")
                    spellings.add(f"{year}{sep}{month}{sep}{day}")
    # Too short to be the date rather than chance ('1758'): only spellings of 6 characters or more count.
    return {spelling for spelling in spellings if len(spelling.replace(" ", "")) >= 6 and " " not in spelling}


@functools.cache
def common_passwords() -> frozenset[str]:
    with open(_COMMON_PASSWORDS_FILE, encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _is_common(value: str) -> bool:
    """On the list as typed (any case), stripped of the digits and symbols people pad with ('Soleil2024!!!'), or
    one of them repeated ('azertyazerty')."""
    common = common_passwords()
    lowered = value.lower()
    if lowered in common:
        return True
    core = lowered.strip("0123456789!?.@#$%&*_-+= ")
    if len(core) >= 6 and core in common:
        return True
    letters = _fold(value)
    if len(letters) >= 6 and letters in common:
        return True
    for size in range(3, len(lowered) // 2 + 1):
        if len(lowered) % size == 0 and lowered[:size] * (len(lowered) // size) == lowered:
            return True  # any short pattern repeated: 'abcabcabcabc', 'azertyazerty'
    return False


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
