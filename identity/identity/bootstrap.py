"""The one place that wires identity's engine, sessions, bus, signing keys, token verifier and clock."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from identity.adapters.keys import SigningKeys, local_token_verifier
from identity.settings import Settings
from services.auth import TokenVerifier
from services.bus import Bus
from services.db import make_engine, make_session_factory


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    bus: Bus
    keys: SigningKeys
    verifier: TokenVerifier
    clock: Callable[[], dt.datetime] = field(default=utc_now)  # tests move time forward through it


def bootstrap(settings: Settings) -> Container:
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    keys = SigningKeys(session_factory)
    return Container(settings, engine, session_factory, Bus(settings.broker_url, settings.bus_namespace), keys,
                     local_token_verifier(keys, settings.token_issuer, settings.token_audience))
