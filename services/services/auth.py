"""Short-lived signed tokens: issued by identity, verified by every service itself.

Signing uses RS256 keys (identity keeps the private ones and publishes the public set as a JWKS). Verification
fetches the JWKS once, then again only when a token names an unknown key id (key rotation), and checks signature,
issuer, audience, expiry and role. No service trusts a header because the gateway set it.
JOSE is done with joserfc, the JOSE library that authlib itself builds on (authlib.jose is deprecated for it).
"""
from __future__ import annotations

import functools
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

import requests
from flask import g, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from services.web import ApiError

ALGORITHM = "RS256"
ROLES = ("assmat", "mam", "rpe", "pmi_agent", "pmi_central", "support", "admin")


def generate_signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": ALGORITHM},
                               private=True)


def issue_token(private_key: RSAKey, *, subject: str, role: str, issuer: str, audience: str,
                lifetime_seconds: int, extra: dict | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": subject, "role": role, "iat": now, "nbf": now,
              "exp": now + lifetime_seconds, "jti": uuid.uuid4().hex, **(extra or {})}
    return jwt.encode({"alg": ALGORITHM, "kid": private_key.kid, "typ": "JWT"}, claims, private_key)


def public_jwks(keys: Iterable[RSAKey]) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    claims: dict


class TokenVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str, *, min_refetch_seconds: float = 10.0,
                 http_timeout: float = 3.0, jwks_source: Callable[[], dict] | None = None):
        """`jwks_source` replaces the HTTP fetch (identity reads its own keys from its database)."""
        self.jwks_url, self.issuer, self.audience = jwks_url, issuer, audience
        self.jwks_source = jwks_source or self._fetch_over_http
        self.min_refetch_seconds, self.http_timeout = min_refetch_seconds, http_timeout
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _fetch_over_http(self) -> dict:
        response = requests.get(self.jwks_url, timeout=self.http_timeout)
        response.raise_for_status()
        return response.json()

    def _key_set(self, kid: str | None) -> KeySet:
        with self._lock:
            known = self._keys is not None and any(k.kid == kid for k in self._keys.keys)
            # Refetch on an unknown kid (rotation), but not more often than min_refetch_seconds (a forged kid
            # must not turn every request into a JWKS download).
            stale = time.monotonic() - self._fetched_at >= self.min_refetch_seconds
            if self._keys is None or (not known and stale):
                try:
                    self._keys = KeySet.import_key_set(self.jwks_source())
                    self._fetched_at = time.monotonic()
                except (requests.RequestException, ValueError) as error:
                    if self._keys is None:
                        raise InvalidToken(f"signing keys unavailable: {error}") from error
            return self._keys

    def verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError, UnicodeError) as error:
            raise InvalidToken(f"malformed token: {error}") from error
        try:
            decoded = jwt.decode(token, self._key_set(header.get("kid")), algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                leeway=30, iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience}, exp={"essential": True},
                sub={"essential": True}, role={"essential": True})
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(str(error)) from error
        claims = decoded.claims
        if claims.get("role") not in ROLES:
            raise InvalidToken("unknown role")
        return Principal(subject=str(claims["sub"]), role=claims["role"], claims=claims)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_token(verifier_getter, roles: Iterable[str] | None = None):
    """Flask view decorator: a valid bearer token (of one of `roles`) or a JSON 401/403."""
    allowed = set(roles) if roles else None

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            token = bearer_token()
            if token is None:
                raise ApiError(401, "token_missing", "Authentification requise.")
            try:
                principal = verifier_getter().verify(token)
            except InvalidToken:
                raise ApiError(401, "token_invalid", "Session expirée ou invalide, reconnectez-vous.") from None
            if allowed is not None and principal.role not in allowed:
                raise ApiError(403, "forbidden", "Vous n'avez pas accès à cette ressource.")
            g.principal = principal
            return view(*args, **kwargs)
        return wrapped
    return decorator
