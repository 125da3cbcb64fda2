"""agrement-svc's worker: relays the outbox (it consumes no event yet)."""
from __future__ import annotations

from agrement.bootstrap import bootstrap
from agrement.settings import Settings
from services.worker import run_worker

HANDLERS: dict = {}


def run(settings: Settings) -> None:
    run_worker("agrement", settings, bootstrap(settings).session_factory, HANDLERS)
