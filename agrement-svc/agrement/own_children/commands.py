"""Add or remove one of the assmat's own children."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from agrement.adapters.orm import agrements, own_children
from agrement.contracts.commands import NotFound, local_day, now
from agrement.contracts.domain import Invalid, check_birth_date, parse_date, parse_first_name
from services.db import UnitOfWork

MAX_OWN_CHILDREN = 15


def add_own_child(session_factory: sessionmaker, pmi_number: str, payload: dict,
                  at: dt.datetime | None = None) -> str:
    at = at or now()
    errors: dict[str, str] = {}
    first_name = parse_first_name(payload.get("first_name"), "first_name", errors)
    birth = parse_date(payload.get("birth_date"), "birth_date", errors, "la date de naissance")
    check_birth_date(birth, "birth_date", errors, local_day(at))
    if errors:
        raise Invalid(errors)
    with UnitOfWork(session_factory) as uow:
        if uow.session.execute(sa.select(agrements.c.pmi_number)
                               .where(agrements.c.pmi_number == pmi_number)).first() is None:
            raise NotFound(pmi_number)
        rows = uow.session.execute(sa.select(own_children.c.first_name, own_children.c.birth_date)
                                   .where(own_children.c.pmi_number == pmi_number)).all()
        if any(r.first_name.lower() == first_name.lower() and r.birth_date == birth for r in rows):
            raise Invalid({"first_name": "Cet enfant est déjà enregistré."})
        if len(rows) >= MAX_OWN_CHILDREN:
            raise Invalid({"first_name": f"{MAX_OWN_CHILDREN} enfants au plus."})
        child_id = uuid.uuid4().hex
        uow.session.execute(own_children.insert().values(id=child_id, pmi_number=pmi_number, first_name=first_name,
                                                         birth_date=birth, created_at=at))
        uow.commit()
    return child_id


def remove_own_child(session_factory: sessionmaker, pmi_number: str, child_id: str) -> None:
    with UnitOfWork(session_factory) as uow:
        result = uow.session.execute(own_children.delete().where(own_children.c.id == child_id,
                                                                 own_children.c.pmi_number == pmi_number))
        if not result.rowcount:
            raise NotFound(child_id)
        uow.commit()
