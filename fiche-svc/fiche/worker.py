"""fiche-svc's worker: consumes agrément and place events, relays the outbox, and unpublishes lapsed fiches."""
from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import sessionmaker

from fiche.bootstrap import bootstrap
from fiche.domain.publication import today
from fiche.handlers import HANDLERS, unpublish_lapsed
from fiche.settings import Settings
from services.worker import run_worker

log = logging.getLogger("fiche.worker")


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    container = bootstrap(settings)
    stop = stop or threading.Event()
    if settings.lapse_sweep_seconds > 0:
        threading.Thread(target=_sweep_lapsed, args=(container.session_factory, stop, settings.lapse_sweep_seconds),
                         name="lapse-sweep", daemon=True).start()
    run_worker("fiche", settings, container.session_factory, HANDLERS, stop=stop)


def _sweep_lapsed(session_factory: sessionmaker, stop: threading.Event, every_seconds: float) -> None:
    # No event marks the day an agrément's validity ends: the worker looks for them itself.
    while not stop.is_set():
        try:
            unpublished = unpublish_lapsed(session_factory, today())
            if unpublished:
                log.info("lapsed fiches unpublished", extra={"fiches": unpublished})
        except Exception:
            log.exception("lapse sweep failed, will retry")
        stop.wait(every_seconds)
