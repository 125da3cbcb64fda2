"""Read side of the places: where one place of practice is."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo.adapters.orm import places

_PUBLIC_FIELDS = ("place_id", "commune_insee", "postcode", "latitude", "longitude", "precision", "score",
                  "needs_review")


def get_place(session: Session, place_id: str) -> dict | None:
    row = session.execute(sa.select(places).where(places.c.place_id == place_id)).mappings().first()
    return {key: row[key] for key in _PUBLIC_FIELDS} if row is not None else None
