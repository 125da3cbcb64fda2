"""Applying a staff decision: the agrément's row, its history and its event, in one transaction.

The event is the one the extract would have produced for the same change (`agrement.withdrawn` when the status
becomes suspended or withdrawn, `agrement.modified` otherwise), so fiche-svc, geo-svc and identity need nothing new.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import sqlalchemy as sa

from agrement.adapters.orm import agrement_history, agrements
from agrement.decisions.domain import decide
from services.catalogue.agrement import AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.db import UnitOfWork
from services.web import ApiError

_ENDING = {"suspended", "withdrawn"}


def _jsonable(value):
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _fingerprint(record: dict) -> str:
    # The same canonical form as the extract's (record_fingerprint): a later extract carrying this very state is
    # recognised as unchanged.
    payload = {name: value for name, value in record.items() if value is not None and value is not False}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def apply_decision(uow: UnitOfWork, pmi_number: str, action: str, body: dict, *, actor: str, allowed) -> dict:
    session = uow.session
    current = session.execute(sa.select(agrements).where(agrements.c.pmi_number == pmi_number)
                              .with_for_update()).mappings().first()
    if current is None or not allowed(current["circonscription"]):
        raise ApiError(404, "not_found", "Agrément introuvable dans votre circonscription.")
    changes, reason = decide(dict(current), action, body)
    now = dt.datetime.now(dt.timezone.utc)
    # The record keeps the extract's fields only (the contact-hidden choice is the back office's own column, which
    # the extract never resets): its fingerprint stays comparable with the next extract's rows.
    record = {**(current["record"] or {}),
              **{name: _jsonable(value) for name, value in changes.items() if name != "publication_contact_hidden"}}
    record.pop("changed_fields", None)
    session.execute(agrements.update().where(agrements.c.pmi_number == pmi_number).values(
        **changes, record=record, fingerprint=_fingerprint(record), updated_at=now))
    session.execute(agrement_history.insert().values(
        id=uuid.uuid4().hex, pmi_number=pmi_number, at=now, action=action, reason=reason, actor=actor,
        changes={name: [_jsonable(current[name]), _jsonable(value)] for name, value in changes.items()}))
    spec = AGREMENT_WITHDRAWN if changes.get("status") in _ENDING and current["status"] not in _ENDING \
        else AGREMENT_MODIFIED
    data = {**record, "publication_contact_hidden": changes.get("publication_contact_hidden",
                                                                current["publication_contact_hidden"])}
    if spec is AGREMENT_MODIFIED:
        data["changed_fields"] = sorted(changes)
    uow.add_event(spec.build(pmi_number, data))
    return {"pmi_number": pmi_number, "action": action, "changes": changes, "reason": reason}
