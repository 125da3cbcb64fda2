"""The agrément events identity consumes: who may activate follows the newest state of each agrément.

`project_agrement_holders(uow, events)` takes a whole batch (the manifest declares it `Batch`): the kernel's inbox has
dropped redeliveries and events older than the state applied, and this writes the batch in three statements
whatever its size (a national import sends 309,400 of them). `project_agrement_holder(uow, event)` is the same
for one event.
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
from services.ordering import one_of, rows_insert

log = logging.getLogger("identity.holders")


def _optional_date(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _state(data: dict) -> dict:
    """What identity keeps of an agrément's state; a malformed event raises (the kernel dead-letters it alone)."""
    return {"birth_date": dt.date.fromisoformat(data["birth_date"]),
            "first_name": (data.get("first_name") or "").strip(), "last_name": (data.get("last_name") or "").strip(),
            "birth_name": (data.get("birth_name") or "").strip() or None,
            "email": (data.get("email") or "").strip().lower() or None,
            "validity_start": _optional_date(data.get("validity_start")),
            "validity_end": _optional_date(data.get("validity_end")),
            "agrement_status": data["status"]}


def _holder_values(event: Event) -> dict:
    """The row an agrément event stands for."""
    return {"pmi_number": parse_pmi_number(event.subject), **_state(event.data),
            "source_occurred_at": dt.datetime.fromisoformat(event.occurred_at)}


def project_agrement_holders(uow: UnitOfWork, events: list[Event]) -> None:
    """agrement.granted / modified / withdrawn, a batch at a time: keep who may activate. Each event carries the
    whole state; within the batch the last event of a PMI number wins (the batch comes in the order of the
    producer's sequence), and an event older than the stored row (by its time, for events sent before sequences
    existed) changes nothing."""
    newest: dict[str, dict] = {}
    for event in events:
        values = _holder_values(event)
        newest[values["pmi_number"]] = values
    session = uow.session
    known = dict(session.execute(sa.select(agrement_holders.c.pmi_number, agrement_holders.c.source_occurred_at)
                                 .where(one_of(session, agrement_holders.c.pmi_number, list(newest)))).all())
    rows = [values for number, values in newest.items()
            if known.get(number) is None or known[number] <= values["source_occurred_at"]]
    if len(rows) < len(newest):
        log.info("older agrément events ignored", extra={"events": len(newest) - len(rows)})
    if not rows:
        return
    insert, parameters = rows_insert(session, agrement_holders, rows)
    session.execute(insert.on_conflict_do_update(
        index_elements=[agrement_holders.c.pmi_number],
        set_={name: insert.excluded[name] for name in rows[0] if name != "pmi_number"}), parameters)
    # Accounts exist for few of them (those who activated): rename only those.
    with_account = session.execute(sa.select(accounts.c.pmi_number).where(
        one_of(session, accounts.c.pmi_number, [row["pmi_number"] for row in rows]))).scalars().all()
    for number in with_account:
        values = newest[number]
        session.execute(accounts.update().where(accounts.c.pmi_number == number)
                        .values(display_name=display_name(values["first_name"], values["last_name"])))


def project_agrement_holder(uow: UnitOfWork, event: Event) -> None:
    """agrement.granted / modified / withdrawn: keep who may activate. Each event carries the whole state, so
    keeping the newest one converges whatever the order of delivery; an older event changes nothing."""
    pmi_number = parse_pmi_number(event.subject)
    occurred_at = dt.datetime.fromisoformat(event.occurred_at)
    values = {**_state(event.data), "source_occurred_at": occurred_at}
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
