"""The structure events identity consumes: each MAM and RPE of the structures extract gets an account.

The account (role `mam` or `rpe`) is created with the structure's e-mail and no password: the structure sets its
first password through "forgotten password" with its account type. One address belongs to one account: when the
extract gives a structure an address another account already holds (an assmat's, another structure's), no account
is created (or the address is not changed), the `structures` row says `conflict = email_taken` and a warning is
logged; the next event of that structure tries again. Nothing raises for it, so the worker goes on.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa

from identity.accounts.commands import end_every_session
from identity.accounts.domain import ACTIVE, DISABLED, MAM, RPE, account_type
from identity.accounts.domain.credentials import mask_email, normalize_email
from identity.accounts.domain.refusals import Refusal
from identity.adapters.orm import accounts, password_resets, structures
from services.catalogue import agrement as agrement_events
from services.catalogue.identity import EMAIL_CHANGED
from services.db import UnitOfWork
from services.events import Event, InvalidEvent

log = logging.getLogger("identity.structures")

EMAIL_TAKEN, NO_EMAIL = "email_taken", "no_email"


def _email(value) -> str | None:
    try:
        return normalize_email(value) if value else None
    except Refusal:
        return None


def project_structure(uow: UnitOfWork, event: Event) -> None:
    """structure.registered / modified / closed: keep the structure's account in step with the extract."""
    data = event.data
    key, kind, name = event.subject, data.get("kind"), " ".join(str(data.get("name") or "").split())[:200]
    if kind not in (MAM, RPE) or data.get("structure_key") != key or not name:
        raise InvalidEvent(f"{event.type}: bad structure key, kind or name")
    occurred_at = dt.datetime.fromisoformat(event.occurred_at)
    session = uow.session
    known = session.execute(sa.select(structures).where(structures.c.structure_key == key)).mappings().first()
    if known is not None and known["source_occurred_at"] > occurred_at:
        log.info("older structure event ignored", extra={"event_id": event.id, "structure": key})
        return
    closed = event.type == agrement_events.STRUCTURE_CLOSED.type or data.get("status") == "closed"
    email = _email(data.get("email"))
    account = session.execute(sa.select(accounts).where(accounts.c.structure_key == key)).mappings().first()
    now = dt.datetime.now(dt.timezone.utc)
    conflict = None
    if closed:
        if account is not None and account["status"] != DISABLED:
            session.execute(accounts.update().where(accounts.c.id == account["id"]).values(status=DISABLED))
            end_every_session(uow, account["id"], now)
    elif email is None:
        conflict = NO_EMAIL
        if account is not None:
            session.execute(accounts.update().where(accounts.c.id == account["id"])
                            .values(display_name=name, status=ACTIVE))
    else:
        owner = session.execute(sa.select(accounts.c.id).where(accounts.c.email == email)).scalar()
        if account is None:
            if owner is not None:
                conflict = EMAIL_TAKEN
            else:
                account_id = str(uuid.uuid4())
                session.execute(accounts.insert().values(
                    id=account_id, role=kind, email=email, display_name=name, status=ACTIVE, created_at=now,
                    structure_key=key))
                account = {"id": account_id}
        else:
            values = {"display_name": name, "status": ACTIVE}
            if account["email"] != email:
                if owner is not None and owner != account["id"]:
                    conflict = EMAIL_TAKEN
                else:
                    values["email"] = email
                    _tell_email_changed(uow, account, email, name, now)
            session.execute(accounts.update().where(accounts.c.id == account["id"]).values(**values))
    if conflict:
        log.warning("structure without a usable e-mail: no account change",
                    extra={"structure": key, "conflict": conflict, "event_id": event.id})
    row = {"kind": kind, "name": name, "email": email, "status": "closed" if closed else "open",
           "account_id": account["id"] if account else None, "conflict": conflict,
           "source_occurred_at": occurred_at}
    if known is None:
        session.execute(structures.insert().values(structure_key=key, **row))
    else:
        session.execute(structures.update().where(structures.c.structure_key == key).values(**row))


def _tell_email_changed(uow: UnitOfWork, account, new_email: str, name: str, now: dt.datetime) -> None:
    """The previous address is told (someone changing it behind the structure's back would otherwise go unseen);
    the links it was sent to set a password die with it."""
    uow.session.execute(password_resets.update().where(password_resets.c.account_id == account["id"],
                                                       password_resets.c.used_at.is_(None)).values(used_at=now))
    if account["email"]:
        uow.add_event(EMAIL_CHANGED.build(account["id"], {
            "account_id": account["id"], "previous_email": account["email"], "new_email_masked": mask_email(new_email),
            "display_name": name, "account_type": account_type(account), "changed_at": now.isoformat()}))


HANDLERS = {spec.type: project_structure for spec in (
    agrement_events.STRUCTURE_REGISTERED, agrement_events.STRUCTURE_MODIFIED, agrement_events.STRUCTURE_CLOSED)}
