"""What the projection does that no event triggers: announce the fiches whose agrément validity started or ended
(the sweeps, and the worker's background task that runs them, see service.py)."""
from __future__ import annotations

import datetime as dt
import logging
import threading

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from fiche.adapters.orm import fiches
from fiche.projection import queries
from fiche.projection.consumers import published_event, unpublished_event
from fiche.projection.domain.publication import today
from services.db import UnitOfWork

log = logging.getLogger("fiche.projection.commands")


def sweep_validity(container, stop: threading.Event) -> None:
    """A background task of the worker (see service.py), every FICHE_LAPSE_SWEEP_SECONDS."""
    session_factory: sessionmaker = container.session_factory
    every_seconds = container.settings.lapse_sweep_seconds
    if every_seconds <= 0:
        return
    # No event marks the day an agrément's validity starts or ends: the worker looks for them itself. Searches
    # follow the dates on their own (queries.visible); the sweeps tell the other services.
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


def publish_started(session_factory: sessionmaker, on: dt.date, batch_size: int = 500) -> int:
    """Publish the fiches whose agrément validity has started by `on` (CASF L421-1, L421-3: she may work from the
    agrément's first day; searches already show them, see queries.visible; this tells the other services). Safe to
    run from several workers: a row is published, and announced, by one of them only."""
    # A fiche waiting for its start always has one (without it, it was published when its event came): the
    # start's range on ix_fiches_start reads only the fiches waiting, not every unpublished one.
    started = sa.and_(fiches.c.published == sa.false(), fiches.c.validity_start <= on, queries.visible(on))
    started_rows = sa.select(fiches.c.fiche_id, fiches.c.commune_insee).where(started).limit(batch_size)
    total = 0
    while True:
        with UnitOfWork(session_factory) as uow:
            rows = uow.session.execute(started_rows).all()
            if not rows:
                return total
            for fiche_id, insee_code in rows:
                result = uow.session.execute(
                    fiches.update().where(fiches.c.fiche_id == fiche_id, started).values(published=True))
                if result.rowcount:
                    uow.add_event(published_event(fiche_id, insee_code))
                    total += 1
            uow.commit()


def unpublish_lapsed(session_factory: sessionmaker, on: dt.date, batch_size: int = 500) -> int:
    """Unpublish the fiches whose agrément validity ended before `on` (searches already hide them; this tells the
    other services). Safe to run from several workers: a row is unpublished, and announced, by one of them only."""
    lapsed_rows = (sa.select(fiches.c.fiche_id, fiches.c.commune_insee)
                   .where(fiches.c.published == sa.true(), fiches.c.validity_end < on).limit(batch_size))
    total = 0
    while True:
        with UnitOfWork(session_factory) as uow:
            rows = uow.session.execute(lapsed_rows).all()
            if not rows:
                return total
            for fiche_id, insee_code in rows:
                # Not publishable any more either: a lapsed agrément is public again only through a new event.
                result = uow.session.execute(
                    fiches.update().where(fiches.c.fiche_id == fiche_id, fiches.c.published == sa.true(),
                                          fiches.c.validity_end < on).values(published=False, publishable=False))
                if result.rowcount:
                    uow.add_event(unpublished_event(fiche_id, insee_code, "expired"))
                    total += 1
            uow.commit()
