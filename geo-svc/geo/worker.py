"""geo-svc's worker: fills the communes reference if empty, then consumes agrément events."""
from __future__ import annotations

import logging

from geo.bootstrap import bootstrap
from geo.handlers import HANDLERS
from geo.reference import load_reference
from geo.settings import Settings
from services.worker import run_worker

log = logging.getLogger("geo.worker")


def run(settings: Settings) -> None:
    container = bootstrap(settings)
    added = load_reference(container.session_factory, _departements(settings))
    if added:
        log.info("communes reference loaded", extra={"communes": added})
    run_worker("geo", settings, container.session_factory, HANDLERS)


def _departements(settings: Settings) -> list[str] | None:
    return [code.strip() for code in settings.departements.split(",") if code.strip()] or None
