"""Reading the projection of structures: which ones have no account, and why."""
from __future__ import annotations

import sqlalchemy as sa

from identity.adapters.orm import structures
from services.db import UnitOfWork


def structures_in_conflict(uow: UnitOfWork) -> list[dict]:
    rows = uow.session.execute(sa.select(structures).where(structures.c.conflict.is_not(None))
                               .order_by(structures.c.structure_key)).mappings().all()
    return [dict(row) for row in rows]
