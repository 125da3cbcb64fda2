"""Applying a structures extract: each new or changed MAM or RPE is stored and becomes an event, in one transaction.

The whole file is one transaction (a département has a few hundred structures at most); the same file twice
changes nothing. A structure absent from a later extract is not closed: closing is explicit (status `closed`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from agrement.adapters.orm import import_runs, structures
from agrement.extract.domain.format import Rejection
from agrement.structures.domain.format import (
    StructureRecord, iter_structures, structure_fingerprint, structure_to_dict)
from services.catalogue import EventSpec
from services.catalogue.agrement import STRUCTURE_CLOSED, STRUCTURE_MODIFIED, STRUCTURE_REGISTERED
from services.db import UnitOfWork


@dataclass
class StructuresReport:
    run_id: str
    rows_read: int = 0
    registered: int = 0
    modified: int = 0
    closed: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def event_for(previous: dict | None, record: StructureRecord, fingerprint: str) -> EventSpec | None:
    if previous is None:
        return STRUCTURE_REGISTERED
    if previous["fingerprint"] == fingerprint:
        return None
    if record.status == "closed" and previous["status"] != "closed":
        return STRUCTURE_CLOSED
    return STRUCTURE_MODIFIED


def import_structures(session_factory: sessionmaker, lines: Iterable[str] | str, file_name: str) -> StructuresReport:
    """Read the file (ExtractFormatError before anything is applied if it cannot be read), apply its valid rows."""
    report = StructuresReport(run_id=uuid.uuid4().hex)
    started = dt.datetime.now(dt.timezone.utc)
    records: list[StructureRecord] = []
    for _line, item in iter_structures(lines):
        report.rows_read += 1
        if isinstance(item, Rejection):
            report.rejections.append(item)
        else:
            records.append(item)
    with UnitOfWork(session_factory) as uow:
        session = uow.session
        known = {row["structure_key"]: row for row in session.execute(
            sa.select(structures.c.structure_key, structures.c.fingerprint, structures.c.status,
                      structures.c.record)).mappings()}
        now = dt.datetime.now(dt.timezone.utc)
        for record in records:
            fingerprint = structure_fingerprint(record)
            previous = known.get(record.key)
            spec = event_for(previous, record, fingerprint)
            if spec is None:
                report.unchanged += 1
                continue
            data = structure_to_dict(record)
            values = {"kind": record.kind, "structure_id": record.structure_id, "name": record.name,
                      "email": record.email, "status": record.status, "record": data, "fingerprint": fingerprint,
                      "updated_at": now}
            if previous is None:
                session.execute(structures.insert().values(structure_key=record.key, created_at=now, **values))
                report.registered += 1
            else:
                session.execute(structures.update().where(structures.c.structure_key == record.key).values(**values))
                data = {**data, "changed_fields": sorted(name for name in data
                                                         if previous["record"].get(name) != data[name])}
                if spec is STRUCTURE_CLOSED:
                    report.closed += 1
                else:
                    report.modified += 1
            uow.add_event(spec.build(record.key, data))
        # Logged with the agrément imports; the counters mean registered / modified / closed here.
        session.execute(import_runs.insert().values(
            id=report.run_id, file_name=("structures: " + file_name)[:300], started_at=started,
            finished_at=dt.datetime.now(dt.timezone.utc), rows_read=report.rows_read, granted=report.registered,
            modified=report.modified, withdrawn=report.closed, unchanged=report.unchanged,
            rejected=len(report.rejections),
            rejections=[{"line": r.line, "pmi_number": None, "reasons": r.reasons} for r in report.rejections]))
        uow.commit()
    return report
