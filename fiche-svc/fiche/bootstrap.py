"""The one place that wires fiche-svc's engine, sessions and bus."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from fiche.settings import Settings
from services.bus import Bus
from services.db import make_engine, make_session_factory


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker
    bus: Bus


def bootstrap(settings: Settings) -> Container:
    engine = make_engine(settings.database_url)
    return Container(settings, engine, make_session_factory(engine), Bus(settings.broker_url, settings.bus_namespace))
