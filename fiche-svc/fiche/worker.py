"""fiche-svc's worker: consumes agrément and place events, relays the outbox, and announces the fiches whose
agrément validity started or ended."""
from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import sessionmaker

from fiche.bootstrap import bootstrap
from fiche.domain.publication import today
from fiche.handlers import HANDLERS, publish_started, unpublish_lapsed
from fiche.settings import Settings
from services.worker import run_worker

log = logging.getLogger("fiche.worker")


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    container = bootstrap(settings)
    stop = stop or threading.Event()
    if settings.lapse_sweep_seconds > 0:
        threading.Thread(target=_sweep_validity, args=(container.session_factory, stop, settings.lapse_sweep_seconds),
                         name="lapse-sweep", daemon=True).start()
    run_worker("fiche", settings, container.session_factory, HANDLERS, stop=stop)


def _sweep_validity(session_factory: sessionmaker, stop: threading.Event, every_seconds: float) -> None:
    # No event marks the day an agrément's validity starts or ends: the worker looks for them itself. Searches
    # follow the dates on their own (views.visible); the sweeps tell the other services.
    while not stop.is_set():
        try:
            on = today()
            unpublished = unpublish_lapsed(session_factory, on)
            if unpublished:
                log.info("lapsed fiches unpublished", extra={"fiches": unpublished})
            published = publish_started(session_factory, on)
            if published:
                log.info("started fiches published", extra={"fiches": published})
        except Exception:
            log.exception("validity sweep failed, will retry")
        stop.wait(every_seconds)
