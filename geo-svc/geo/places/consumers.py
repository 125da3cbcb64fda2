"""Where each place of practice is, kept from the agrément events geo-svc consumes."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from geo.adapters.orm import communes, places
from geo.places.domain import Address, address_changed, locate_in_commune
from services.catalogue.geo import PLACE_LOCATED, PLACE_NEEDS_REVIEW
from services.db import UnitOfWork
from services.events import Event

log = logging.getLogger("geo.places")


def locate_place_of_practice(uow: UnitOfWork, event: Event) -> None:
    """agrement.granted / agrement.modified: (re)locate the place of practice when its address changed."""
    data = event.data
    place_id = event.subject
    address = Address(data.get("address_line") or "", data.get("postcode") or "", data.get("commune_insee") or "")
    session = uow.session
    row = session.execute(sa.select(places).where(places.c.place_id == place_id)).mappings().first()
    previous = Address(row["address_line"] or "", row["postcode"] or "", row["commune_insee"] or "") if row else None
    if not address_changed(previous, address):
        return
    commune = session.execute(sa.select(communes).where(communes.c.insee_code == address.commune_insee)) \
        .mappings().first()
    location = locate_in_commune(commune["latitude"], commune["longitude"]) if commune else None
    values = {"address_line": address.address_line, "postcode": address.postcode,
              "commune_insee": address.commune_insee, "located_at": dt.datetime.now(dt.timezone.utc),
              "latitude": location.latitude if location else None,
              "longitude": location.longitude if location else None,
              "precision": location.precision if location else None,
              "score": location.score if location else None,
              "needs_review": location is None}
    if row:
        session.execute(places.update().where(places.c.place_id == place_id).values(**values))
    else:
        session.execute(places.insert().values(place_id=place_id, **values))
    if location is None:
        uow.add_event(PLACE_NEEDS_REVIEW.build(place_id, {
            "place_id": place_id, "commune_insee": address.commune_insee,
            "reason": "commune inconnue du référentiel" if commune is None else "commune sans coordonnées"}))
        return
    uow.add_event(PLACE_LOCATED.build(place_id, {
        "place_id": place_id, "commune_insee": address.commune_insee, "commune_name": commune["name"],
        "postcode": address.postcode, "latitude": location.latitude, "longitude": location.longitude,
        "precision": location.precision, "score": location.score}))
