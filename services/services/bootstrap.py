"""What every service's bootstrap wires the same way: its settings, database engine, sessions and bus.

A service whose container needs more (a token verifier, a mail transport) derives its own dataclass from
`ServiceContainer` and builds it with `Container(**ServiceContainer.parts(settings), extra=...)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from services.bus import Bus
from services.db import check_database, make_engine, make_session_factory
from services.settings import BaseSettings


@dataclass
class ServiceContainer:
    settings: BaseSettings
    engine: Engine
    session_factory: sessionmaker
    bus: Bus

    @staticmethod
    def parts(settings: BaseSettings) -> dict:
        engine = make_engine(settings.database_url)
        return {"settings": settings, "engine": engine, "session_factory": make_session_factory(engine),
                "bus": Bus(settings.broker_url, settings.bus_namespace)}

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> "ServiceContainer":
        return cls(**cls.parts(settings))

    def readiness(self) -> dict[str, Callable[[], None]]:
        """What the web process needs to answer: its database. (It never talks to the broker: what it records goes
        out through the outbox, relayed by the worker, whose state services.manifest adds to /readyz.)"""
        return {"database": lambda: check_database(self.engine)}
