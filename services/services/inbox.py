"""Idempotent consumption: the event id is recorded in the same transaction as the handler's effects.

A redelivered event finds its id already there and is acknowledged without running the handler again.
"""
from __future__ import annotations

import logging
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from services import correlation
from services.db import UnitOfWork, kernel_tables
from services.events import Event

log = logging.getLogger("services.inbox")
_, INBOX = kernel_tables(sa.MetaData())

Handler = Callable[[UnitOfWork, Event], None]


def handle_once(session_factory: sessionmaker, handler: Handler, event: Event) -> bool:
    """Run `handler(uow, event)` unless this event id was already handled. Returns False for a duplicate."""
    with correlation.bound(event.correlation_id), UnitOfWork(session_factory) as uow:
        try:
            with uow.session.begin_nested():
                uow.session.execute(INBOX.insert().values(event_id=event.id, event_type=event.type))
        except IntegrityError:
            log.info("duplicate event ignored", extra={"event_id": event.id, "event_type": event.type})
            return False
        handler(uow, event)
        uow.commit()
        return True


def prune(session_factory: sessionmaker, received_before) -> int:
    """Forget event ids older than the redelivery window (a broker redelivers within minutes, not weeks)."""
    with session_factory() as session, session.begin():
        return session.execute(INBOX.delete().where(INBOX.c.received_at < received_before)).rowcount
