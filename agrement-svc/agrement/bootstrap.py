"""The one place that wires agrement-svc's engine, sessions, bus and token verifier."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from agrement.settings import Settings
from services.auth import TokenVerifier
from services.bus import Bus
from services.db import make_engine, make_session_factory


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    bus: Bus
    verifier: TokenVerifier


def bootstrap(settings: Settings) -> Container:
    engine = make_engine(settings.database_url)
    return Container(settings, engine, make_session_factory(engine), Bus(settings.broker_url, settings.bus_namespace),
                     TokenVerifier(settings.identity_jwks_url, settings.token_issuer, settings.token_audience))
