"""Reading the projection of agrément holders."""
from __future__ import annotations

import sqlalchemy as sa

from identity.adapters.orm import agrement_holders
from identity.holders.domain import Holder
from services.db import UnitOfWork


def find_holder(uow: UnitOfWork, pmi_number: str) -> Holder | None:
    row = uow.session.execute(sa.select(agrement_holders)
                              .where(agrement_holders.c.pmi_number == pmi_number)).mappings().first()
    if row is None:
        return None
    return Holder(row["pmi_number"], row["birth_date"], row["first_name"], row["last_name"], row["agrement_status"],
                  birth_name=row["birth_name"], email=row["email"], validity_start=row["validity_start"],
                  validity_end=row["validity_end"])
