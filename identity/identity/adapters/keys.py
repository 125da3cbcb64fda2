"""identity's signing keys, kept in its own database and created on first need.

The private key is stored as a JWK in the table `signing_keys`, so whoever can read identity's database can sign
tokens: keep that database's credentials as guarded as a secret. A production deployment that wants the key out of
the database would load it from a secret store here instead; rotation means adding a row (the newest signs, older
ones stay published until the tokens they signed expired) and is left for later: today the oldest key signs.
"""
from __future__ import annotations

import datetime as dt
import json
import threading

import sqlalchemy as sa
from joserfc.jwk import RSAKey
from sqlalchemy.orm import sessionmaker

from identity.adapters.orm import signing_keys
from services.auth import TokenVerifier, generate_signing_key, public_jwks


class SigningKeys:
    def __init__(self, session_factory: sessionmaker):
        self._session_factory = session_factory
        self._signing: RSAKey | None = None
        self._lock = threading.Lock()

    def all(self) -> list[RSAKey]:
        """Every key, oldest first: those that sign and those whose tokens may still be in use."""
        with self._session_factory() as session:
            rows = session.execute(sa.select(signing_keys.c.private_jwk)
                                   .order_by(signing_keys.c.created_at, signing_keys.c.kid)).scalars().all()
        return [RSAKey.import_key(json.loads(row)) for row in rows]

    def signing_key(self) -> RSAKey:
        with self._lock:
            if self._signing is None:
                self._signing = self._load_or_create()
            return self._signing

    def _load_or_create(self) -> RSAKey:
        with self._session_factory() as session, session.begin():
            if session.execute(sa.select(signing_keys.c.kid).limit(1)).first() is None:
                key = generate_signing_key()
                session.execute(signing_keys.insert().values(
                    kid=key.kid, private_jwk=json.dumps(key.as_dict(private=True)),
                    created_at=dt.datetime.now(dt.timezone.utc)))
        # Two processes racing on an empty table (PostgreSQL) both insert; both then sign with the oldest key.
        return self.all()[0]

    def public_jwks(self) -> dict:
        self.signing_key()  # a verifier asking before anything was signed must not cache an empty set
        return public_jwks(self.all())


def local_token_verifier(keys: SigningKeys, issuer: str, audience: str,
                         refresh_seconds: float = 300.0) -> TokenVerifier:
    """Checks identity's own access tokens against the keys in its database rather than over HTTP to itself."""
    return TokenVerifier("", issuer, audience, jwks_source=keys.public_jwks, refresh_seconds=refresh_seconds)
