"""The one place that wires geo-svc: the kernel's container, a token verifier (the correction pages) and the
geocoder chosen by GEO_GEOCODER."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo.adapters.geocoders import build_geocoder
from geo.settings import Settings
from services.auth import TokenVerifier
from services.bootstrap import ServiceContainer


@dataclass
class Container(ServiceContainer):
    verifier: TokenVerifier
    geocoder: Any


def bootstrap(settings: Settings) -> Container:
    parts = ServiceContainer.parts(settings)
    return Container(**parts,
                     verifier=TokenVerifier(settings.identity_jwks_url, settings.token_issuer, settings.token_audience,
                                            refresh_seconds=settings.jwks_refresh_seconds),
                     geocoder=build_geocoder(settings, parts["session_factory"]))
