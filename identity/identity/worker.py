"""identity's worker: keeps the projection of agrément holders and relays identity's outbox."""
from __future__ import annotations

from identity.bootstrap import bootstrap
from identity.handlers import HANDLERS
from identity.settings import Settings
from services.worker import run_worker


def run(settings: Settings) -> None:
    run_worker("identity", settings, bootstrap(settings).session_factory, HANDLERS)
