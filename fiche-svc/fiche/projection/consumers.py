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
from fiche.projection.domain.publication import (KIND_ASSMAT, commune_point, public_fiche, publishable,
                                                 status_reason, today, unpublished_reason, withdrawal_status)
from services.text import commune_key, fold
from services.catalogue import agrement as agrement_events
from services.catalogue.fiche import FICHE_PUBLISHED, FICHE_UNPUBLISHED, FICHE_UPDATED
from services.catalogue.geo import PLACE_LOCATED
from services.communes import get_commune
from services.db import UnitOfWork
from services.events import Event, InvalidEvent
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
    """place.located: where a place of practice is; only the commune's point is kept (see commune_point)."""
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
    latitude, longitude = commune_point(data.get("precision"), _coordinate(data, "latitude"),
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


HANDLERS = {
    agrement_events.AGREMENT_GRANTED.type: apply_agrement,
    agrement_events.AGREMENT_MODIFIED.type: apply_agrement,
    agrement_events.AGREMENT_WITHDRAWN.type: end_agrement,
    PLACE_LOCATED.type: record_location,
}
