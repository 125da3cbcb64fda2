"""The one place that wires identity's engine, sessions, bus, signing keys, token verifier and clock."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


from identity.adapters.keys import JWKS_MAX_AGE_SECONDS, SigningKeys, local_token_verifier
from identity.sessions.domain import ACCESS_TOKEN_LIFETIME
from identity.settings import Settings
from services.auth import TokenVerifier
from services.bootstrap import ServiceContainer


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Container(ServiceContainer):
    keys: SigningKeys
    verifier: TokenVerifier
    clock: Callable[[], dt.datetime] = field(default=utc_now)  # tests move time forward through it


def bootstrap(settings: Settings) -> Container:
    parts = ServiceContainer.parts(settings)
    # A new key signs once every verifier has had one refresh interval (plus what an HTTP cache may add) to fetch
    # it; a replaced key stays published for as long as the tokens it signed live.
    keys = SigningKeys(parts["session_factory"],
                       publish_ahead_seconds=settings.jwks_refresh_seconds + JWKS_MAX_AGE_SECONDS,
                       access_token_seconds=ACCESS_TOKEN_LIFETIME.total_seconds())
    return Container(**parts, keys=keys,
                     verifier=local_token_verifier(keys, settings.token_issuer, settings.token_audience,
                                                   settings.jwks_refresh_seconds))
