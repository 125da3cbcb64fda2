"""The one place that wires agrement-svc: the kernel's container plus a token verifier."""
from __future__ import annotations

from dataclasses import dataclass

from agrement.settings import Settings
from services.auth import TokenVerifier
from services.bootstrap import ServiceContainer


@dataclass
class Container(ServiceContainer):
    verifier: TokenVerifier


def bootstrap(settings: Settings) -> Container:
    return Container(**ServiceContainer.parts(settings),
                     verifier=TokenVerifier(settings.identity_jwks_url, settings.token_issuer, settings.token_audience,
                                            refresh_seconds=settings.jwks_refresh_seconds))
