"""The projection's reads that other parts build on: a fiche's row as the public view needs it, and the SQL form of
"public on that day". The consumers compare a fiche's row before and after a change; the sweeps and the searches
(fiche.search.queries) filter with `visible`, so that both follow one rule.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiche.adapters.orm import communes, fiches, places

RECORD = (
    sa.select(fiches.c.fiche_id, fiches.c.kind, fiches.c.status, fiches.c.civility, fiches.c.first_name,
              fiches.c.last_name, fiches.c.email, fiches.c.phone, fiches.c.postcode, fiches.c.commune_insee,
              fiches.c.capacity_total, fiches.c.capacity_under_3, fiches.c.in_mam, fiches.c.mam_name,
              fiches.c.published, fiches.c.validity_end, communes.c.name.label("commune_name"),
              places.c.commune_insee.label("place_commune_insee"), places.c.latitude, places.c.longitude)
    .select_from(fiches.outerjoin(communes, communes.c.insee_code == fiches.c.commune_insee)
                 .outerjoin(places, places.c.place_id == fiches.c.place_id))
)


def visible(on: dt.date):
    """Public on that day (fiche.projection.domain.publication): publishable, and within the agrément's validity,
    from its first day to its last (CASF L421-1, L421-3). The dates are compared here rather than when events arrive
    because no event marks those days: the worker's sweeps only announce what the day changed.
    `publishable = true` rather than IS TRUE: PostgreSQL only uses the index for the comparison operator."""
    return sa.and_(fiches.c.publishable == sa.true(),
                   sa.or_(fiches.c.validity_start.is_(None), fiches.c.validity_start <= on),
                   sa.or_(fiches.c.validity_end.is_(None), fiches.c.validity_end >= on))


def record(session: Session, fiche_id: str) -> Mapping[str, Any] | None:
    """A fiche's row whatever its visibility (for the consumers)."""
    return session.execute(RECORD.where(fiches.c.fiche_id == fiche_id)).mappings().first()
