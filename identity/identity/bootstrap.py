"""The one place that wires identity's engine, sessions, bus, signing keys, token verifier and clock."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field


from identity.adapters.keys import JWKS_MAX_AGE_SECONDS, SigningKeys, local_token_verifier
from identity.defences.throttle import Throttle
from identity.sessions.domain import ACCESS_TOKEN_LIFETIME
from identity.settings import Settings
from services.auth import TokenVerifier
from services.bootstrap import ServiceContainer
from services.expiring import ExpiringStore, open_store
from services.web import parse_networks


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Container(ServiceContainer):
    keys: SigningKeys
    verifier: TokenVerifier
    store: ExpiringStore | None = None      # throttling counters, captcha answers
    throttle: Throttle | None = None
    trusted_proxies: tuple = ()
    # Tests move time forward by replacing it; the throttle reads it through the container, so it follows.
    clock: Callable[[], dt.datetime] = field(default=utc_now)


def bootstrap(settings: Settings) -> Container:
    parts = ServiceContainer.parts(settings)
    # A new key signs once every verifier has had one refresh interval (plus what an HTTP cache may add) to fetch
    # it; a replaced key stays published for as long as the tokens it signed live.
    keys = SigningKeys(parts["session_factory"],
                       publish_ahead_seconds=settings.jwks_refresh_seconds + JWKS_MAX_AGE_SECONDS,
                       access_token_seconds=ACCESS_TOKEN_LIFETIME.total_seconds())
    container = Container(**parts, keys=keys,
                          verifier=local_token_verifier(keys, settings.token_issuer, settings.token_audience,
                                                        settings.jwks_refresh_seconds),
                          trusted_proxies=parse_networks(settings.trusted_proxies))
    container.store = open_store(settings.store_url or settings.database_url, namespace="identity",
                                 engine=None if settings.store_url else parts["engine"])
    container.throttle = Throttle(container.store, lambda: container.clock(), parts["session_factory"])
    return container
