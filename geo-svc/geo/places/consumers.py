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
from services.ordering import one_of, rows_insert

log = logging.getLogger("geo.places")


def locate_places_of_practice(uow: UnitOfWork, events: list[Event]) -> None:
    """agrement.granted / agrement.modified, a batch at a time: (re)locate each place of practice whose address
    changed. The kernel has dropped redeliveries and events older than the state applied; within the batch the
    last address of a place wins. Two reads and one write for the whole batch, whatever its size."""
    latest: dict[str, Address] = {}
    for event in events:
        data = event.data
        latest[event.subject] = Address(data.get("address_line") or "", data.get("postcode") or "",
                                        data.get("commune_insee") or "")
    session = uow.session
    known = {row["place_id"]: Address(row["address_line"] or "", row["postcode"] or "", row["commune_insee"] or "")
             for row in session.execute(sa.select(places.c.place_id, places.c.address_line, places.c.postcode,
                                                  places.c.commune_insee)
                                        .where(one_of(session, places.c.place_id, list(latest)))).mappings()}
    changed = {place_id: address for place_id, address in latest.items()
               if address_changed(known.get(place_id), address)}
    if not changed:
        return
    found = {row["insee_code"]: row for row in session.execute(
        sa.select(communes.c.insee_code, communes.c.name, communes.c.latitude, communes.c.longitude)
        .where(one_of(session, communes.c.insee_code,
                      sorted({address.commune_insee for address in changed.values()})))).mappings()}
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for place_id, address in changed.items():
        commune = found.get(address.commune_insee)
        location = locate_in_commune(commune["latitude"], commune["longitude"]) if commune else None
        rows.append({"place_id": place_id, "address_line": address.address_line, "postcode": address.postcode,
                     "commune_insee": address.commune_insee, "located_at": now,
                     "latitude": location.latitude if location else None,
                     "longitude": location.longitude if location else None,
                     "precision": location.precision if location else None,
                     "score": location.score if location else None,
                     "needs_review": location is None})
        if location is None:
            uow.add_event(PLACE_NEEDS_REVIEW.build(place_id, {
                "place_id": place_id, "commune_insee": address.commune_insee,
                "reason": "commune inconnue du référentiel" if commune is None else "commune sans coordonnées"}))
        else:
            uow.add_event(PLACE_LOCATED.build(place_id, {
                "place_id": place_id, "commune_insee": address.commune_insee, "commune_name": commune["name"],
                "postcode": address.postcode, "latitude": location.latitude, "longitude": location.longitude,
                "precision": location.precision, "score": location.score}))
    insert, parameters = rows_insert(session, places, rows)
    session.execute(insert.on_conflict_do_update(
        index_elements=[places.c.place_id],
        set_={name: insert.excluded[name] for name in rows[0] if name != "place_id"}), parameters)


def locate_place_of_practice(uow: UnitOfWork, event: Event) -> None:
    """The same for one event."""
    locate_places_of_practice(uow, [event])
