"""The assmat's own children as she sees them."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from agrement.adapters.orm import own_children
from agrement.capacity.domain import age_in_years


def list_own_children(session: Session, pmi_number: str, on: dt.date) -> list[dict]:
    rows = session.execute(sa.select(own_children).where(own_children.c.pmi_number == pmi_number)
                           .order_by(own_children.c.birth_date, own_children.c.first_name)).mappings()
    return [{"id": r["id"], "first_name": r["first_name"], "birth_date": r["birth_date"].isoformat(),
             "age": age_in_years(r["birth_date"], on),
             # what the engine does with each (L421-4, 2021): never a place; under 3 in the 4, under 11 in the 6
             "counted_in": ("under_3" if age_in_years(r["birth_date"], on) < 3
                            else "minors_under_11" if age_in_years(r["birth_date"], on) < 11 else None)}
            for r in rows]
