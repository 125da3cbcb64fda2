"""What fiche-svc does with the events it consumes: keep the fiches projection, announce what the public sees change.
(The validity sweeps, which no event triggers, are in fiche.projection.commands.)

Events may arrive in any order (redeliveries, retries, two producers): each aggregate keeps the `occurred_at` of the
newest event applied, and an older one is ignored. A place's location lives in its own table, joined at read time,
so a `place.located` that comes before its `agrement.granted` is kept and shows up once the fiche exists.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import uuid
from typing import Any

import sqlalchemy as sa

from fiche.adapters.orm import communes, fiches, places
from fiche.projection import queries
from fiche.projection.domain.agrement import AgrementState, agrement_state, pmi_number
from fiche.projection.domain.publication import (KIND_ASSMAT, shown_point, public_fiche, publishable,
                                                 status_reason, today, unpublished_reason, withdrawal_status)
from services.text import commune_key, fold
from services.catalogue import agrement as agrement_events
from services.catalogue.fiche import FICHE_PUBLISHED, FICHE_UNPUBLISHED, FICHE_UPDATED
from services.catalogue.geo import PLACE_LOCATED
from services.communes import get_commune
from services.db import UnitOfWork
from services.events import Event, InvalidEvent
from services.ordering import one_of, rows_insert
from services.validators import is_insee_code, is_postcode

log = logging.getLogger("fiche.projection.consumers")

_PLACE_ID = re.compile(r"^[\w.-]{1,64}$")


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    published: bool
    commune_insee: str
    view: dict[str, Any]


def _snapshot(session, fiche_id: str) -> _Snapshot | None:
    row = queries.record(session, fiche_id)
    return _Snapshot(row["published"], row["commune_insee"], public_fiche(row)) if row else None


def _occurred_at(event: Event) -> dt.datetime:
    """The event's time as naive UTC, the form stored (SQLite keeps no offset)."""
    try:
        moment = dt.datetime.fromisoformat(event.occurred_at)
    except ValueError:
        raise InvalidEvent(f"occurred_at {event.occurred_at!r} is not an ISO 8601 time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def published_event(fiche_id: str, commune_insee: str) -> Event:
    return FICHE_PUBLISHED.build(fiche_id, {"fiche_id": fiche_id, "kind": KIND_ASSMAT, "commune_insee": commune_insee})


def unpublished_event(fiche_id: str, commune_insee: str, reason: str) -> Event:
    return FICHE_UNPUBLISHED.build(fiche_id, {"fiche_id": fiche_id, "kind": KIND_ASSMAT, "reason": reason,
                                              "commune_insee": commune_insee})


def _announce(uow: UnitOfWork, fiche_id: str, before: _Snapshot | None, reason: str | None) -> None:
    """Compare what the public saw before and sees now; record fiche.published / updated / unpublished."""
    after = _snapshot(uow.session, fiche_id)
    was_published = before is not None and before.published
    if after.published and not was_published:
        uow.add_event(published_event(fiche_id, after.commune_insee))
    elif was_published and not after.published:
        uow.add_event(unpublished_event(fiche_id, after.commune_insee, reason))
    elif after.published:
        changed = sorted(key for key, value in after.view.items() if before.view.get(key) != value)
        if changed:
            uow.add_event(FICHE_UPDATED.build(fiche_id, {
                "fiche_id": fiche_id, "kind": KIND_ASSMAT, "commune_insee": after.commune_insee,
                "changed_fields": changed}))


def _remember_commune(session, insee_code: str, name: str | None = None, postcode: str | None = None) -> None:
    """Keep the name of every commune a fiche is in, for display and search: from the offline reference, else from
    what geo-svc said (a commune the reference does not know yet)."""
    if session.execute(sa.select(communes.c.insee_code).where(communes.c.insee_code == insee_code)).first():
        return
    reference = get_commune(insee_code)
    if reference is not None:
        name, postcodes = reference.name, " ".join(reference.postcodes)
    else:
        postcodes = postcode or ""
    if name:
        session.execute(communes.insert().values(insee_code=insee_code, name=name, search_name=commune_key(name),
                                                 postcodes=postcodes))


def _state_values(state: AgrementState, on: dt.date) -> tuple[dict[str, Any], str | None]:
    reason = unpublished_reason(state, on)
    values = {field.name: getattr(state, field.name) for field in dataclasses.fields(state)}
    values.update(sort_name=fold(f"{state.last_name} {state.first_name}"), publishable=publishable(state, on),
                  published=reason is None)
    return values, reason


def _apply_agrement(uow: UnitOfWork, event: Event, *, ends_publication: bool) -> None:
    number = pmi_number(event.subject)
    occurred_at = _occurred_at(event)
    session = uow.session
    current = session.execute(sa.select(fiches.c.fiche_id, fiches.c.agrement_occurred_at)
                              .where(fiches.c.pmi_number == number).with_for_update()).first()
    if current is not None and occurred_at < current.agrement_occurred_at:
        log.info("older agrément event ignored", extra={"event_id": event.id, "event_type": event.type})
        return
    if ends_publication and current is not None:
        # A withdrawal must go through even if a field it does not need is malformed: only the status is read.
        status = withdrawal_status(event.data.get("status"))
        values, reason = {"status": status, "publishable": False, "published": False}, status_reason(status)
    else:
        state = agrement_state(event.data)
        if ends_publication:
            state = dataclasses.replace(state, status=withdrawal_status(state.status))
        values, reason = _state_values(state, today())
        _remember_commune(session, state.commune_insee)
    values["agrement_occurred_at"] = occurred_at
    if current is None:
        fiche_id = uuid.uuid4().hex
        before = None
        session.execute(fiches.insert().values(fiche_id=fiche_id, pmi_number=number, place_id=number,
                                               kind=KIND_ASSMAT, **values))
    else:
        fiche_id = current.fiche_id
        before = _snapshot(session, fiche_id)
        session.execute(fiches.update().where(fiches.c.fiche_id == fiche_id).values(**values))
    _announce(uow, fiche_id, before, reason)


def apply_agrement(uow: UnitOfWork, event: Event) -> None:
    """agrement.granted / agrement.modified: the whole new state of the agrément."""
    _apply_agrement(uow, event, ends_publication=False)


def end_agrement(uow: UnitOfWork, event: Event) -> None:
    """agrement.withdrawn: the agrément ended (withdrawn or suspended); the fiche leaves the site."""
    _apply_agrement(uow, event, ends_publication=True)


def _coordinate(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent(f"place field {name} is not a number: {value!r}")
    return float(value)


def record_location(uow: UnitOfWork, event: Event) -> None:
    """place.located: where a place of practice is; the point kept is the one geo-svc says may be shown (see
    shown_point)."""
    place_id, data = event.subject, event.data
    if not _PLACE_ID.match(place_id or ""):
        raise InvalidEvent(f"place subject {place_id!r} is not a place id")
    insee_code = data.get("commune_insee")
    if not is_insee_code(insee_code):
        raise InvalidEvent(f"place field commune_insee is not an INSEE code: {insee_code!r}")
    occurred_at = _occurred_at(event)
    session = uow.session
    current = session.execute(sa.select(places.c.occurred_at).where(places.c.place_id == place_id)
                              .with_for_update()).first()
    if current is not None and occurred_at < current.occurred_at:
        log.info("older place event ignored", extra={"event_id": event.id})
        return
    reference = get_commune(insee_code)
    latitude, longitude = shown_point(_coordinate(data, "public_latitude"), _coordinate(data, "public_longitude"),
                                      data.get("precision"), _coordinate(data, "latitude"),
                                      _coordinate(data, "longitude"), reference and reference.latitude,
                                      reference and reference.longitude)
    # Locked like the agrément handlers lock them, so that each side's before/after comparison sees the other's
    # change either wholly or not at all.
    fiche_ids = session.execute(sa.select(fiches.c.fiche_id).where(fiches.c.place_id == place_id)
                                .with_for_update()).scalars().all()
    before = {fiche_id: _snapshot(session, fiche_id) for fiche_id in fiche_ids}
    values = {"commune_insee": insee_code, "latitude": latitude, "longitude": longitude, "occurred_at": occurred_at}
    if current is None:
        session.execute(places.insert().values(place_id=place_id, **values))
    else:
        session.execute(places.update().where(places.c.place_id == place_id).values(**values))
    name, postcode = data.get("commune_name"), data.get("postcode")
    _remember_commune(session, insee_code, name if isinstance(name, str) and len(name) <= 200 else None,
                      postcode if is_postcode(postcode) else None)
    for fiche_id in fiche_ids:
        _announce(uow, fiche_id, before[fiche_id], None)


# -- a batch at a time ----------------------------------------------------------------------------------------------
#
# The worker applies a whole batch through `project_batch`: the rows the batch touches are read (and locked) in a few
# statements, the events are applied one after the other in memory by the same rules as the handlers above, and the
# resulting rows are written back in one upsert per table. The fiches, places, communes and outgoing events are
# those the handlers above give event after event (tests/integration/test_batch.py compares both on random inputs);
# those handlers stay the reference, and what `handle_once` callers use.

_AGREMENT_TYPES = frozenset({agrement_events.AGREMENT_GRANTED.type, agrement_events.AGREMENT_MODIFIED.type,
                             agrement_events.AGREMENT_WITHDRAWN.type})
_FICHE_COLUMNS = tuple(column.name for column in fiches.columns)
_CHUNK = 500  # keys per IN list / rows per statement: below the bind parameter limits of PostgreSQL and SQLite


def _chunks(items: list, size: int = _CHUNK):
    return (items[start:start + size] for start in range(0, len(items), size))


class _BatchState:
    """The rows a batch touches, in memory: what the handlers above would read and write, statement by statement."""

    def __init__(self, session, events: list[Event]):
        numbers, place_ids, insee_codes = set(), set(), set()
        for event in events:
            if event.type in _AGREMENT_TYPES:
                numbers.add(pmi_number(event.subject))
            else:
                place_ids.add(event.subject)
            insee_code = event.data.get("commune_insee") if isinstance(event.data, dict) else None
            if isinstance(insee_code, str):
                insee_codes.add(insee_code)
        self.fiches: dict[str, dict[str, Any]] = {}  # by fiche_id
        self.by_number: dict[str, str] = {}
        self.by_place: dict[str, list[str]] = {}
        self.places: dict[str, dict[str, Any]] = {}
        self.communes: dict[str, str] = {}  # insee_code -> name, of those the batch may read
        self.dirty_fiches: set[str] = set()
        self.dirty_places: set[str] = set()
        self.new_communes: dict[str, dict[str, Any]] = {}
        # Locked in key order, as a concurrent consumer would lock them: by PMI number for agrément events, by place
        # for place events (the handlers above lock the same rows).
        columns = [fiches.c[name] for name in _FICHE_COLUMNS]
        for chunk in _chunks(sorted(numbers)):
            self._keep_fiches(session.execute(sa.select(*columns).where(one_of(session, fiches.c.pmi_number, chunk))
                                              .order_by(fiches.c.fiche_id).with_for_update()))
        for chunk in _chunks(sorted(place_ids)):
            self._keep_fiches(session.execute(sa.select(*columns).where(one_of(session, fiches.c.place_id, chunk))
                                              .order_by(fiches.c.fiche_id).with_for_update()))
            self._keep_places(session.execute(sa.select(places).where(one_of(session, places.c.place_id, chunk))
                                              .order_by(places.c.place_id).with_for_update()))
        # Read, not locked: the places of fiches an agrément event changes (their pins), as the snapshots join them.
        others = sorted(({row["place_id"] for row in self.fiches.values()} | numbers) - place_ids)
        for chunk in _chunks(others):
            self._keep_places(session.execute(sa.select(places).where(one_of(session, places.c.place_id, chunk))))
        insee_codes |= {row["commune_insee"] for row in self.fiches.values()}
        insee_codes |= {row["commune_insee"] for row in self.places.values()}
        for chunk in _chunks(sorted(insee_codes)):
            self.communes.update({row.insee_code: row.name for row in session.execute(
                sa.select(communes.c.insee_code, communes.c.name).where(one_of(session, communes.c.insee_code, chunk)))})

    def _keep_fiches(self, rows) -> None:
        for row in rows.mappings():
            if row["fiche_id"] not in self.fiches:
                self.fiches[row["fiche_id"]] = dict(row)
                self.by_number[row["pmi_number"]] = row["fiche_id"]
                self.by_place.setdefault(row["place_id"], []).append(row["fiche_id"])

    def _keep_places(self, rows) -> None:
        for row in rows.mappings():
            self.places.setdefault(row["place_id"], dict(row))

    def snapshot(self, fiche_id: str) -> _Snapshot:
        """As `_snapshot`: the row joined with its commune's name and its place."""
        row = self.fiches[fiche_id]
        place = self.places.get(row["place_id"])
        record = dict(row, commune_name=self.communes.get(row["commune_insee"]),
                      place_commune_insee=place and place["commune_insee"], latitude=place and place["latitude"],
                      longitude=place and place["longitude"])
        return _Snapshot(row["published"], row["commune_insee"], public_fiche(record))

    def remember_commune(self, insee_code: str, name: str | None = None, postcode: str | None = None) -> None:
        """As `_remember_commune`."""
        if insee_code in self.communes:
            return
        reference = get_commune(insee_code)
        if reference is not None:
            name, postcodes = reference.name, " ".join(reference.postcodes)
        else:
            postcodes = postcode or ""
        if name:
            self.communes[insee_code] = name
            self.new_communes[insee_code] = {"insee_code": insee_code, "name": name,
                                             "search_name": commune_key(name), "postcodes": postcodes}

    def announce(self, uow: UnitOfWork, fiche_id: str, before: _Snapshot | None, reason: str | None) -> None:
        """As `_announce`."""
        after = self.snapshot(fiche_id)
        was_published = before is not None and before.published
        if after.published and not was_published:
            uow.add_event(published_event(fiche_id, after.commune_insee))
        elif was_published and not after.published:
            uow.add_event(unpublished_event(fiche_id, after.commune_insee, reason))
        elif after.published:
            changed = sorted(key for key, value in after.view.items() if before.view.get(key) != value)
            if changed:
                uow.add_event(FICHE_UPDATED.build(fiche_id, {
                    "fiche_id": fiche_id, "kind": KIND_ASSMAT, "commune_insee": after.commune_insee,
                    "changed_fields": changed}))

    def apply_agrement(self, uow: UnitOfWork, event: Event, on: dt.date, *, ends_publication: bool) -> None:
        """As `_apply_agrement`."""
        number = pmi_number(event.subject)
        occurred_at = _occurred_at(event)
        fiche_id = self.by_number.get(number)
        current = self.fiches[fiche_id] if fiche_id is not None else None
        if current is not None and occurred_at < current["agrement_occurred_at"]:
            log.info("older agrément event ignored", extra={"event_id": event.id, "event_type": event.type})
            return
        if ends_publication and current is not None:
            status = withdrawal_status(event.data.get("status"))
            values, reason = {"status": status, "publishable": False, "published": False}, status_reason(status)
        else:
            state = agrement_state(event.data)
            if ends_publication:
                state = dataclasses.replace(state, status=withdrawal_status(state.status))
            values, reason = _state_values(state, on)
            self.remember_commune(state.commune_insee)
        values["agrement_occurred_at"] = occurred_at
        if current is None:
            fiche_id = uuid.uuid4().hex
            before = None
            self.fiches[fiche_id] = dict(fiche_id=fiche_id, pmi_number=number, place_id=number, kind=KIND_ASSMAT,
                                         **values)
            self.by_number[number] = fiche_id
            self.by_place.setdefault(number, []).append(fiche_id)
        else:
            before = self.snapshot(fiche_id)
            current.update(values)
        self.dirty_fiches.add(fiche_id)
        self.announce(uow, fiche_id, before, reason)

    def record_location(self, uow: UnitOfWork, event: Event) -> None:
        """As `record_location`."""
        place_id, data = event.subject, event.data
        if not _PLACE_ID.match(place_id or ""):
            raise InvalidEvent(f"place subject {place_id!r} is not a place id")
        insee_code = data.get("commune_insee")
        if not is_insee_code(insee_code):
            raise InvalidEvent(f"place field commune_insee is not an INSEE code: {insee_code!r}")
        occurred_at = _occurred_at(event)
        current = self.places.get(place_id)
        if current is not None and occurred_at < current["occurred_at"]:
            log.info("older place event ignored", extra={"event_id": event.id})
            return
        reference = get_commune(insee_code)
        latitude, longitude = shown_point(_coordinate(data, "public_latitude"),
                                          _coordinate(data, "public_longitude"), data.get("precision"),
                                          _coordinate(data, "latitude"), _coordinate(data, "longitude"),
                                          reference and reference.latitude, reference and reference.longitude)
        fiche_ids = list(self.by_place.get(place_id, ()))
        before = {fiche_id: self.snapshot(fiche_id) for fiche_id in fiche_ids}
        self.places[place_id] = {"place_id": place_id, "commune_insee": insee_code, "latitude": latitude,
                                 "longitude": longitude, "occurred_at": occurred_at}
        self.dirty_places.add(place_id)
        name, postcode = data.get("commune_name"), data.get("postcode")
        self.remember_commune(insee_code, name if isinstance(name, str) and len(name) <= 200 else None,
                              postcode if is_postcode(postcode) else None)
        for fiche_id in fiche_ids:
            self.announce(uow, fiche_id, before[fiche_id], None)

    def write(self, session) -> None:
        """The rows changed, one upsert per table (services.ordering.rows_insert: one statement whatever their
        number on PostgreSQL)."""
        if self.new_communes:
            insert, parameters = rows_insert(session, communes, list(self.new_communes.values()))
            session.execute(insert.on_conflict_do_nothing(index_elements=[communes.c.insee_code]), parameters)
        if self.dirty_places:
            insert, parameters = rows_insert(session, places,
                                             [self.places[place_id] for place_id in sorted(self.dirty_places)])
            session.execute(insert.on_conflict_do_update(
                index_elements=[places.c.place_id],
                set_={name: insert.excluded[name] for name in ("commune_insee", "latitude", "longitude",
                                                               "occurred_at")}), parameters)
        if self.dirty_fiches:
            insert, parameters = rows_insert(session, fiches, [
                {name: self.fiches[fiche_id][name] for name in _FICHE_COLUMNS}
                for fiche_id in sorted(self.dirty_fiches)])
            session.execute(insert.on_conflict_do_update(
                index_elements=[fiches.c.fiche_id],
                set_={name: insert.excluded[name] for name in _FICHE_COLUMNS
                      if name not in ("fiche_id", "pmi_number", "place_id", "kind")}), parameters)


def project_batch(uow: UnitOfWork, events: list[Event]) -> None:
    """agrement.granted / modified / withdrawn and place.located, a batch at a time (the manifest's Batch): the
    kernel has left out redeliveries and events older than their subject's sequence; each event is then applied in
    the batch's order exactly as its handler above would apply it, announcements included, and the rows are read
    and written a few statements per batch instead of about eight per event."""
    state = _BatchState(uow.session, events)
    on = today()
    for event in events:
        if event.type == PLACE_LOCATED.type:
            state.record_location(uow, event)
        else:
            state.apply_agrement(uow, event, on,
                                 ends_publication=event.type == agrement_events.AGREMENT_WITHDRAWN.type)
    state.write(uow.session)


HANDLERS = {
    agrement_events.AGREMENT_GRANTED.type: apply_agrement,
    agrement_events.AGREMENT_MODIFIED.type: apply_agrement,
    agrement_events.AGREMENT_WITHDRAWN.type: end_agrement,
    PLACE_LOCATED.type: record_location,
}
