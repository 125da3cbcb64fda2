"""Where each place of practice is, kept from the agrément events geo-svc consumes."""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from geo.adapters.orm import communes, places
from geo.geocoding.domain import AddressQuery, GeocodeResult, public_pin, weakness
from geo.places.domain import Address, address_changed, address_key
from services.catalogue.geo import PLACE_LOCATED, PLACE_NEEDS_REVIEW
from services.db import UnitOfWork
from services.events import Event
from services.manifest import FromContainer
from services.ordering import one_of, rows_insert

log = logging.getLogger("geo.places")


def locate_places_of_practice(uow: UnitOfWork, events: list[Event], geocoder=None, settings=None) -> None:
    """agrement.granted / agrement.modified, a batch at a time: (re)locate each place of practice whose address
    changed. The kernel has dropped redeliveries and events older than the state applied; within the batch the
    last address of a place wins. The geocoder answers the batch in one call; when it cannot answer
    (GeocoderUnavailable: the address API down or rate-limiting past its retries) the exception leaves the batch
    to the kernel's retries: nothing is written, the fiche keeps its previous pin."""
    if geocoder is None:   # tests and callers without a container: the offline commune level
        from geo.adapters.geocoders import CommuneGeocoder
        geocoder = CommuneGeocoder(lambda: _SessionProxy(uow.session))
    threshold = getattr(settings, "review_threshold", 0.6)
    pin_mode, blur_m = getattr(settings, "public_pin", "blurred"), getattr(settings, "blur_metres", 300)
    latest: dict[str, tuple[Address, dict]] = {}
    for event in events:
        data = event.data
        latest[event.subject] = (Address(data.get("address_line") or "", data.get("postcode") or "",
                                         data.get("commune_insee") or ""), data)
    session = uow.session
    known = {row["place_id"]: row for row in session.execute(
        sa.select(places).where(one_of(session, places.c.place_id, list(latest)))).mappings()}
    changed = {}
    for place_id, (address, _data) in latest.items():
        row = known.get(place_id)
        previous = Address(row["address_line"] or "", row["postcode"] or "", row["commune_insee"] or "") if row \
            else None
        if address_changed(previous, address):
            changed[place_id] = address
    if not changed:
        return
    names = {row.insee_code: row.name for row in session.execute(
        sa.select(communes.c.insee_code, communes.c.name)
        .where(one_of(session, communes.c.insee_code, sorted({a.commune_insee for a in changed.values()}))))}
    # An accepted correction for this very address wins: no geocoding for it.
    corrected = {place_id: known[place_id] for place_id, address in changed.items()
                 if place_id in known and known[place_id]["corrected_address"] == address_key(address)
                 and known[place_id]["corrected_latitude"] is not None}
    queries = [AddressQuery(place_id, address.address_line, address.postcode, address.commune_insee)
               for place_id, address in changed.items() if place_id not in corrected]
    answers = geocoder.geocode_many(queries) if queries else {}
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for place_id, address in changed.items():
        previous = known.get(place_id) or {}
        if place_id in corrected:
            result = GeocodeResult(corrected[place_id]["corrected_latitude"],
                                   corrected[place_id]["corrected_longitude"], "housenumber", 1.0,
                                   previous.get("label") or "", address.commune_insee, "correction")
        else:
            result = answers.get(place_id)
        reason = None if place_id in corrected else weakness(result, threshold, address.commune_insee,
                                                                 getattr(geocoder, "name", "") == "communes")
        if address.commune_insee not in names and result is not None and result.source == "communes":
            reason = "commune inconnue du référentiel"
        row = {"place_id": place_id, "address_line": address.address_line, "postcode": address.postcode,
               "commune_insee": address.commune_insee, "located_at": now, "needs_review": reason is not None,
               "review_reason": reason, "pmi_number": place_id if place_id.isdigit() and len(place_id) == 6
               else None,
               # A correction is kept for the address it was accepted for; a new address drops it.
               "corrected_address": previous.get("corrected_address") if place_id in corrected else None,
               "corrected_latitude": previous.get("corrected_latitude") if place_id in corrected else None,
               "corrected_longitude": previous.get("corrected_longitude") if place_id in corrected else None}
        if result is None:
            row.update({"latitude": None, "longitude": None, "precision": None, "score": None, "label": None,
                        "source": None, "public_latitude": None, "public_longitude": None})
            uow.add_event(PLACE_NEEDS_REVIEW.build(place_id, {
                "place_id": place_id, "commune_insee": address.commune_insee,
                "reason": "commune inconnue du référentiel" if address.commune_insee not in names
                else (reason or "adresse introuvable")}))
        else:
            if result.type == "municipality":
                pub_lat, pub_lon, pub_precision = result.latitude, result.longitude, "municipality"
            else:
                pub_lat, pub_lon, pub_precision = public_pin(result.latitude, result.longitude, pin_mode, blur_m)
            row.update({"latitude": result.latitude, "longitude": result.longitude, "precision": result.type,
                        "score": result.score, "label": result.label[:300], "source": result.source,
                        "public_latitude": pub_lat, "public_longitude": pub_lon})
            uow.add_event(located_event(place_id, address, names.get(address.commune_insee, ""), result,
                                        (pub_lat, pub_lon, pub_precision), reason is not None))
            if reason is not None:
                uow.add_event(PLACE_NEEDS_REVIEW.build(place_id, {
                    "place_id": place_id, "commune_insee": address.commune_insee, "reason": reason,
                    "precision": result.type, "score": result.score, "label": result.label}))
        rows.append(row)
    insert, parameters = rows_insert(session, places, rows)
    session.execute(insert.on_conflict_do_update(
        index_elements=[places.c.place_id],
        set_={name: insert.excluded[name] for name in rows[0] if name != "place_id"}), parameters)


def located_event(place_id: str, address: Address, commune_name: str, result: GeocodeResult,
                  public: tuple[float, float, str], needs_review: bool) -> Event:
    return PLACE_LOCATED.build(place_id, {
        "place_id": place_id, "commune_insee": address.commune_insee, "commune_name": commune_name,
        "postcode": address.postcode, "latitude": result.latitude, "longitude": result.longitude,
        "precision": result.type, "score": result.score, "label": result.label, "source": result.source,
        "public_latitude": public[0], "public_longitude": public[1], "public_precision": public[2],
        "corrected": result.source == "correction", "needs_review": needs_review})


class _SessionProxy:
    """The consumer's own session handed to an adapter that opens sessions (`with factory() as s`), unclosed."""

    def __init__(self, session):
        self.session = session

    def __enter__(self):
        return self.session

    def __exit__(self, *exc):
        return False


def locate_place_of_practice(uow: UnitOfWork, event: Event) -> None:
    """The same for one event."""
    locate_places_of_practice(uow, [event])


def _with_container(container):
    def handler(uow: UnitOfWork, events: list[Event]) -> None:
        # No container (a test of the manifest alone): the offline commune level.
        locate_places_of_practice(uow, events, getattr(container, "geocoder", None),
                                  getattr(container, "settings", None))
    return handler


LOCATE_WITH_CONTAINER = FromContainer(_with_container)
