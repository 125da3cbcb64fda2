"""What fiche-svc's worker does beside consuming events: announce the fiches whose agrément validity started or
ended (the kernel runs it as a background task, see service.py)."""
from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import sessionmaker

from fiche.projection.consumers import publish_started, unpublish_lapsed
from fiche.projection.domain.publication import today

log = logging.getLogger("fiche.worker")


def sweep_validity(container, stop: threading.Event) -> None:
    """A background task of the worker (see service.py), every FICHE_LAPSE_SWEEP_SECONDS."""
    session_factory: sessionmaker = container.session_factory
    every_seconds = container.settings.lapse_sweep_seconds
    if every_seconds <= 0:
        return
    # No event marks the day an agrément's validity starts or ends: the worker looks for them itself. Searches
    # follow the dates on their own (fiche.search.queries.visible); the sweeps tell the other services.
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
