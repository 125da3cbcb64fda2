"""Short-lived signed tokens: issued by identity, verified by every service itself.

Signing uses RS256 keys (identity keeps the private ones and publishes the public set as a JWKS). `TokenVerifier`
checks signature, issuer, audience, expiry and role. No service trusts a header because the gateway set it.
JOSE is done with joserfc, the JOSE library that authlib itself builds on (authlib.jose is deprecated for it).

How the verifier keeps its key set (R = `refresh_seconds`, `JWKS_REFRESH_SECONDS`, 300 by default; G =
`grace_seconds`, three intervals by default):
- A set is fresh for R after it was fetched. The first verification that finds it older refreshes it: in its own
  thread while identity answers (the other requests keep verifying against the current set meanwhile, none waits),
  in a background thread once a refresh has failed (so that no request pays a timeout during an outage). A key
  removed from the JWKS is therefore refused within R, give or take the duration of that one fetch.
- A token naming a key id the set lacks (rotation) makes that request fetch at once, so a new key is accepted
  immediately; but not if another fetch is under way or one was made less than `min_refetch_seconds` (10) ago:
  the token is then refused (401), so a forged kid cannot turn requests into JWKS downloads.
- While refreshes fail, the last good set is kept until it is R + G old (20 minutes by default), then refused:
  the verifier fails closed and logs it (failures as warnings, the first one then at most once a minute; the
  moment tokens start being refused, as an error).
- Without a trusted set (cold start, the last set expired, or no verification at all for R + G), one request
  fetches (timeout `http_timeout`, 2 s, on connecting and on each read) and every other request is refused at once
  with `SigningKeysUnavailable` instead of queueing behind it; after a failed fetch the next one is not tried for
  `retry_seconds` (1).
  `require_token` answers those 503 `auth_unavailable`, not 401: the token was not judged, and a 401 would tell
  the caller to throw away a session that is probably valid (the gateway shows "service unavailable, retry" and
  keeps the browser session).
A fetch that fails for any reason (network, HTTP status, JSON, an empty or malformed set, the database of
identity's own verifier) counts as a failed refresh. A token whose header names no key id is refused without any
fetch: identity always names its key.
"""
from __future__ import annotations

import functools
import logging
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
log = logging.getLogger("services.auth")

ROLES = ("assmat", "mam", "rpe", "pmi_agent", "pmi_central", "support", "admin")
ACCOUNT_TYPES = ("assmat", "mam", "rpe", "staff")


def generate_signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": ALGORITHM},
                               private=True)


def issue_token(private_key: RSAKey, *, subject: str, role: str, issuer: str, audience: str,
                lifetime_seconds: int, extra: dict | None = None, roles: Iterable[str] | None = None,
                account_type: str | None = None) -> str:
    """A signed access token. `role` is the account's main role (kept for the services that read it); `roles`
    every role it holds (a PMI agent who is also support), `[role]` when not given; `account_type` says which kind
    of account signed in (assmat, mam, rpe, staff), so that a service never guesses it from a role."""
    roles = list(dict.fromkeys(roles)) if roles is not None else [role]
    if role not in roles:
        roles.insert(0, role)
    unknown = [name for name in roles if name not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown!r}")
    if account_type is not None and account_type not in ACCOUNT_TYPES:
        raise ValueError(f"unknown account type {account_type!r}")
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": subject, "role": role, "roles": roles, "iat": now, "nbf": now,
              "exp": now + lifetime_seconds, "jti": uuid.uuid4().hex, **(extra or {})}
    if account_type is not None:
        claims["account_type"] = account_type
    return jwt.encode({"alg": ALGORITHM, "kid": private_key.kid, "typ": "JWT"}, claims, private_key)


def public_jwks(keys: Iterable[RSAKey]) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


class InvalidToken(Exception):
    pass


class SigningKeysUnavailable(InvalidToken):
    """No trusted key set right now, so the token could not be judged (identity unreachable at cold start, a fetch
    under way, or the last good set past its grace). An InvalidToken, so that a caller knowing only that refuses."""


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    claims: dict

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role the token grants (a token from before `roles` existed grants its `role`)."""
        return tuple(self.claims.get("roles") or (self.role,))

    @property
    def account_type(self) -> str | None:
        return self.claims.get("account_type")

    @property
    def circonscriptions(self) -> tuple[str, ...]:
        return tuple(self.claims.get("circonscriptions") or ())


_FAILURE_LOG_EVERY_SECONDS = 60.0


class TokenVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str, *, refresh_seconds: float = 300.0,
                 grace_seconds: float | None = None, min_refetch_seconds: float = 10.0, retry_seconds: float = 1.0,
                 http_timeout: float = 2.0, jwks_source: Callable[[], dict] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        """`jwks_source` replaces the HTTP fetch (identity reads its own keys from its database); `clock` is a
        monotonic clock in seconds (tests move it). `grace_seconds` defaults to three refresh intervals."""
        if refresh_seconds <= 0:
            raise ValueError("refresh_seconds must be positive")
        self.jwks_url, self.issuer, self.audience = jwks_url, issuer, audience
        self.jwks_source = jwks_source or self._fetch_over_http
        self.refresh_seconds = refresh_seconds
        self.grace_seconds = 3 * refresh_seconds if grace_seconds is None else grace_seconds
        self.min_refetch_seconds, self.retry_seconds = min_refetch_seconds, retry_seconds
        self.http_timeout = http_timeout
        self._clock = clock
        # Held only to read or record state, never during a fetch: that is what keeps requests from queueing.
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at = 0.0                 # when the current set was asked for
        self._attempted_at: float | None = None
        self._failed_at: float | None = None   # end of the last attempt, if it failed
        self._failures = 0                     # consecutive failed attempts
        self._last_error = ""
        self._fetching = False
        self._background: threading.Thread | None = None
        self._failure_logged_at: float | None = None
        self._expiry_logged = False

    def _fetch_over_http(self) -> dict:
        response = requests.get(self.jwks_url, timeout=self.http_timeout)
        response.raise_for_status()
        return response.json()

    def verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError, UnicodeError) as error:
            raise InvalidToken(f"malformed token: {error}") from error
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            # Every token identity issues names its key; without one there is nothing to look up (nor to fetch).
            raise InvalidToken("token without key id")
        keys = self._key_set(kid)
        try:
            decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
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
        roles = claims.get("roles", [claims["role"]])
        # Fail closed: a role this code does not know is not skipped but refuses the whole token.
        if not isinstance(roles, list) or not roles or any(role not in ROLES for role in roles):
            raise InvalidToken("malformed or unknown roles")
        if "account_type" in claims and claims["account_type"] not in ACCOUNT_TYPES:
            raise InvalidToken("unknown account type")
        circonscriptions = claims.get("circonscriptions", [])
        if not isinstance(circonscriptions, list) or not all(isinstance(item, str) for item in circonscriptions):
            raise InvalidToken("malformed circonscriptions")
        return Principal(subject=str(claims["sub"]), role=claims["role"], claims=claims)

    # --- the key set ------------------------------------------------------------------------------------------

    def _key_set(self, kid: str) -> KeySet:
        """The set to verify a token naming `kid` against; starts or runs a fetch when one is due."""
        with self._lock:
            now = self._clock()
            keys = self._trusted(now)
            if keys is None:
                if not self._may_fetch(now):
                    raise SigningKeysUnavailable(self._unavailable_reason())
                run = "here"
            elif kid not in self._kids:
                since = None if self._attempted_at is None else now - self._attempted_at
                if not self._may_fetch(now) or (since is not None and since < self.min_refetch_seconds):
                    return keys  # decoding refuses the unknown kid
                run = "here"
            elif now - self._fetched_at >= self.refresh_seconds and self._may_fetch(now):
                run = "here" if self._failures == 0 else "background"
            else:
                return keys
            self._fetching, self._attempted_at = True, now
        if run == "background":
            self._refresh_in_background()
            return keys
        self._refresh()
        with self._lock:
            keys = self._trusted(self._clock())
            if keys is None:
                raise SigningKeysUnavailable(self._unavailable_reason())
            return keys

    def _trusted(self, now: float) -> KeySet | None:
        """The current set unless it is older than the refresh interval plus the grace. Called under the lock."""
        if self._keys is None:
            return None
        if now - self._fetched_at < self.refresh_seconds + self.grace_seconds:
            return self._keys
        if self._failures and not self._expiry_logged:
            self._expiry_logged = True
            log.error("signing keys too old, every token is refused until identity's JWKS answers again",
                      extra={"jwks_url": self.jwks_url, "age_seconds": round(now - self._fetched_at),
                             "failures": self._failures, "error": self._last_error})
        return None

    def _may_fetch(self, now: float) -> bool:
        if self._fetching:
            return False
        return self._failed_at is None or now - self._failed_at >= self.retry_seconds

    def _unavailable_reason(self) -> str:
        if self._fetching:
            return "signing keys unavailable: a fetch is under way"
        return f"signing keys unavailable: {self._last_error or 'none trusted'}"

    def _refresh_in_background(self) -> None:
        thread = threading.Thread(target=self._refresh, name="jwks-refresh", daemon=True)
        self._background = thread
        try:
            thread.start()
        except RuntimeError as error:  # no thread to be had: record it, or _fetching would stay set forever
            self._record(None, error)

    def _refresh(self) -> None:
        """Fetch outside the lock (the caller set `_fetching`), then record the outcome under it."""
        keys, error = None, None
        try:
            keys = KeySet.import_key_set(self.jwks_source())
        except Exception as exc:  # whatever the source raises (network, status, JSON, database) is a failed fetch
            error = exc
        finally:
            self._record(keys, error)

    def _record(self, keys: KeySet | None, error: BaseException | None) -> None:
        with self._lock:
            now = self._clock()
            self._fetching = False
            if keys is not None:
                kids = frozenset(key.kid for key in keys.keys)
                if self._keys is not None and kids != self._kids:
                    log.info("signing keys changed", extra={"added": sorted(kids - self._kids),
                                                            "removed": sorted(self._kids - kids)})
                if self._failures:
                    log.info("signing keys fetched again", extra={"jwks_url": self.jwks_url,
                                                                   "failures": self._failures})
                self._keys, self._kids = keys, kids
                self._fetched_at = self._attempted_at if self._attempted_at is not None else now
                self._failures, self._failed_at, self._last_error = 0, None, ""
                self._failure_logged_at, self._expiry_logged = None, False
                return
            self._failures += 1
            self._failed_at = now
            self._last_error = f"{type(error).__name__}: {error}" if error is not None else "fetch interrupted"
            if self._failure_logged_at is None or now - self._failure_logged_at >= _FAILURE_LOG_EVERY_SECONDS:
                self._failure_logged_at = now
                log.warning("signing keys fetch failed", extra={
                    "jwks_url": self.jwks_url, "failures": self._failures, "error": self._last_error,
                    "keys_age_seconds": None if self._keys is None else round(now - self._fetched_at)})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_token(verifier_getter, roles: Iterable[str] | None = None):
    """Flask view decorator: a valid bearer token holding any one of `roles` (in its `roles` list, or its `role`),
    or a JSON 401/403."""
    allowed = set(roles) if roles else None

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            token = bearer_token()
            if token is None:
                raise ApiError(401, "token_missing", "Authentification requise.")
            try:
                principal = verifier_getter().verify(token)
            except SigningKeysUnavailable:
                raise ApiError(503, "auth_unavailable", "La vérification de votre connexion est momentanément "
                               "impossible. Réessayez dans quelques instants.") from None
            except InvalidToken:
                raise ApiError(401, "token_invalid", "Session expirée ou invalide, reconnectez-vous.") from None
            if allowed is not None and not allowed.intersection(principal.roles):
                raise ApiError(403, "forbidden", "Vous n'avez pas accès à cette ressource.")
            g.principal = principal
            return view(*args, **kwargs)
        return wrapped
    return decorator
