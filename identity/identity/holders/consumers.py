"""The agrément events identity consumes: who may activate follows the newest state of each agrément.

Plain functions `handler(uow, event)`; the kernel's inbox drops redeliveries and applies them in one transaction.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from identity.accounts.domain.credentials import parse_pmi_number
from identity.adapters.orm import accounts, agrement_holders
from identity.holders.domain import display_name
from services.catalogue import agrement as agrement_events
from services.db import UnitOfWork
from services.events import Event

log = logging.getLogger("identity.holders")


def project_agrement_holder(uow: UnitOfWork, event: Event) -> None:
    """agrement.granted / modified / withdrawn: keep who may activate. Each event carries the whole state, so
    keeping the newest one converges whatever the order of delivery; an older event changes nothing."""
    pmi_number = parse_pmi_number(event.subject)
    data = event.data
    occurred_at = dt.datetime.fromisoformat(event.occurred_at)
    values = {"birth_date": dt.date.fromisoformat(data["birth_date"]),
              "first_name": (data.get("first_name") or "").strip(), "last_name": (data.get("last_name") or "").strip(),
              "agrement_status": data["status"], "source_occurred_at": occurred_at}
    session = uow.session
    known = session.execute(sa.select(agrement_holders.c.source_occurred_at)
                            .where(agrement_holders.c.pmi_number == pmi_number)).scalar()
    if known is not None and known > occurred_at:
        log.info("older agrément event ignored", extra={"event_id": event.id, "pmi_number": pmi_number})
        return
    if known is None:
        session.execute(agrement_holders.insert().values(pmi_number=pmi_number, **values))
    else:
        session.execute(agrement_holders.update().where(agrement_holders.c.pmi_number == pmi_number).values(**values))
    session.execute(accounts.update().where(accounts.c.pmi_number == pmi_number)
                    .values(display_name=display_name(values["first_name"], values["last_name"])))


HANDLERS = {spec.type: project_agrement_holder for spec in (
    agrement_events.AGREMENT_GRANTED, agrement_events.AGREMENT_MODIFIED, agrement_events.AGREMENT_WITHDRAWN)}
