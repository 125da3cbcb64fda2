"""identity's signing keys, kept in its own database, rotated without downtime.

The private key is stored as a JWK in the table `signing_keys`, so whoever can read identity's database can sign
tokens: keep that database's credentials as guarded as a secret. A production deployment that wants the key out of
the database would load it from a secret store here instead.

Rotation (`python -m identity keys rotate`, then later `keys retire`), with R the verifiers' JWKS refresh interval
(`JWKS_REFRESH_SECONDS`) plus the JWKS's HTTP max-age (what a cache in between may add), and L the access tokens'
lifetime:
- `rotate` adds a key. It is published in the JWKS at once but signs only once it is R old: by then every verifier
  has fetched the set that holds it, so no token is ever signed by a key a verifier has not seen (a verifier meeting
  an unknown key id also fetches at once, but at most every 10 s: publishing first leaves nothing to that race).
  Each identity process looks at the table again every `RELOAD_SECONDS`, so all of them switch within that.
- The previous key stops signing then, and stays published: the tokens it signed are valid up to L (+ the
  verifiers' 30 s leeway) after that.
- `retire` removes every key that was replaced at least L + R (+ the reload and leeway margins) ago, never the key
  that signs. A verifier refuses a retired key's tokens within R of the removal (its next JWKS refresh).
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from joserfc.jwk import RSAKey
from sqlalchemy.orm import sessionmaker

from identity.adapters.orm import signing_keys
from services.auth import TokenVerifier, generate_signing_key, public_jwks

# An HTTP cache between identity and a verifier may serve the JWKS this much older (its Cache-Control max-age): a
# new key waits for that too before it signs (identity.bootstrap).
JWKS_MAX_AGE_SECONDS = 300
RELOAD_SECONDS = 30.0          # how long a process keeps using the signing key it read
VERIFIER_LEEWAY_SECONDS = 30   # services.auth accepts a token this long past its expiry


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class StoredKey:
    key: RSAKey
    created_at: dt.datetime

    @property
    def kid(self) -> str:
        return self.key.kid


class SigningKeys:
    def __init__(self, session_factory: sessionmaker, *, publish_ahead_seconds: float = 300.0,
                 access_token_seconds: float = 900.0, clock: Callable[[], dt.datetime] = _utc_now,
                 reload_seconds: float = RELOAD_SECONDS):
        """`publish_ahead_seconds`: R, how long a new key is published before it signs (the verifiers' refresh
        interval); `access_token_seconds`: L, the lifetime of the tokens a key signs."""
        self._session_factory = session_factory
        self.publish_ahead = dt.timedelta(seconds=publish_ahead_seconds)
        self.retire_after = dt.timedelta(seconds=access_token_seconds + publish_ahead_seconds + reload_seconds
                                         + VERIFIER_LEEWAY_SECONDS)
        self.clock = clock
        self._reload_seconds = reload_seconds
        self._signing: RSAKey | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    # --- reading ------------------------------------------------------------------------------------------------
    def stored(self) -> list[StoredKey]:
        """Every key, oldest first: the one that signs, those about to, those whose tokens may still be in use."""
        with self._session_factory() as session:
            rows = session.execute(sa.select(signing_keys.c.private_jwk, signing_keys.c.created_at)
                                   .order_by(signing_keys.c.created_at, signing_keys.c.kid)).all()
        return [StoredKey(RSAKey.import_key(json.loads(row.private_jwk)), _aware(row.created_at)) for row in rows]

    def all(self) -> list[RSAKey]:
        return [stored.key for stored in self.stored()]

    def signer(self, keys: list[StoredKey], now: dt.datetime) -> StoredKey:
        """The newest key published for at least R; the oldest key while none is (the very first key signs at
        once: no verifier holds an older set of ours to miss it from)."""
        ready = [stored for stored in keys if stored.created_at + self.publish_ahead <= now]
        return ready[-1] if ready else keys[0]

    def signing_key(self) -> RSAKey:
        with self._lock:
            if self._signing is None or time.monotonic() - self._read_at >= self._reload_seconds:
                keys = self.stored() or self._create_first()
                self._signing = self.signer(keys, self.clock()).key
                self._read_at = time.monotonic()
            return self._signing

    def _create_first(self) -> list[StoredKey]:
        with self._session_factory() as session, session.begin():
            if session.execute(sa.select(signing_keys.c.kid).limit(1)).first() is None:
                self._insert(session, self.clock())
        # Two processes racing on an empty table (PostgreSQL) both insert; both then sign with the oldest key.
        return self.stored()

    def public_jwks(self) -> dict:
        self.signing_key()  # a verifier asking before anything was signed must not cache an empty set
        return public_jwks(self.all())

    # --- rotation -----------------------------------------------------------------------------------------------
    def rotate(self, now: dt.datetime | None = None) -> StoredKey:
        """Add a key: published now, signing from `now + R`."""
        now = now or self.clock()
        with self._session_factory() as session, session.begin():
            newest = session.execute(sa.select(sa.func.max(signing_keys.c.created_at))).scalar()
            if newest is not None:  # keys are ordered by creation: a new one always comes last
                now = max(now, _aware(newest) + dt.timedelta(microseconds=1))
            key = self._insert(session, now)
        self._read_at = 0.0  # this process looks again at its next signature
        return StoredKey(key, now)

    def retirable(self, now: dt.datetime | None = None) -> list[StoredKey]:
        """Keys replaced long enough ago that no token they signed can still be valid."""
        now = now or self.clock()
        keys = self.stored()
        if not keys:
            return []
        signer = self.signer(keys, now)
        retirable = []
        for index, stored in enumerate(keys):
            if stored.kid == signer.kid or index + 1 >= len(keys):
                continue
            successor = keys[index + 1]
            # It stopped signing when its successor started: published R after its creation.
            stopped_signing = successor.created_at + self.publish_ahead
            if stored.created_at < signer.created_at and stopped_signing + self.retire_after <= now:
                retirable.append(stored)
        return retirable

    def retire(self, now: dt.datetime | None = None) -> list[str]:
        """Remove the retirable keys; return their ids."""
        kids = [stored.kid for stored in self.retirable(now)]
        if kids:
            with self._session_factory() as session, session.begin():
                session.execute(signing_keys.delete().where(signing_keys.c.kid.in_(kids)))
            self._read_at = 0.0
        return kids

    def describe(self, now: dt.datetime | None = None) -> list[dict]:
        """What `keys list` shows: each key's id, creation, and whether it signs, waits, or may be retired."""
        now = now or self.clock()
        keys = self.stored()
        if not keys:
            return []
        signer, retirable = self.signer(keys, now), {stored.kid for stored in self.retirable(now)}
        rows = []
        for stored in keys:
            if stored.kid == signer.kid:
                state = "signs"
            elif stored.created_at > signer.created_at:
                state = f"published, signs from {(stored.created_at + self.publish_ahead).isoformat()}"
            elif stored.kid in retirable:
                state = "retirable"
            else:
                state = "published for the tokens it signed"
            rows.append({"kid": stored.kid, "created_at": stored.created_at.isoformat(), "state": state})
        return rows

    @staticmethod
    def _insert(session, now: dt.datetime) -> RSAKey:
        key = generate_signing_key()
        session.execute(signing_keys.insert().values(
            kid=key.kid, private_jwk=json.dumps(key.as_dict(private=True)), created_at=now))
        return key


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def local_token_verifier(keys: SigningKeys, issuer: str, audience: str,
                         refresh_seconds: float = 300.0) -> TokenVerifier:
    """Checks identity's own access tokens against the keys in its database rather than over HTTP to itself."""
    return TokenVerifier("", issuer, audience, jwks_source=keys.public_jwks, refresh_seconds=refresh_seconds)
