"""Applying a PMI extract: each new or changed agrément is stored and becomes an event, in one transaction.

Rows are applied in batches (one transaction each), so an extract of 300,000 rows does not hold one huge
transaction, and an import stopped half-way can simply be run again: unchanged rows are recognised by their
fingerprint and change nothing (same file twice = no event the second time).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from agrement.adapters.orm import agrement_history, agrements, import_runs
from agrement.extract.domain.format import (AgrementRecord, AgrementStatus, Rejection, iter_extract,
                                            record_fingerprint, record_to_dict)
from services.catalogue import EventSpec
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.db import UnitOfWork

# Statuses that end publication (DOMAIN.md: suspension and withdrawal end publication).
ENDING_STATUSES = {AgrementStatus.SUSPENDED.value, AgrementStatus.WITHDRAWN.value}


@dataclass
class ImportReport:
    run_id: str
    rows_read: int = 0
    granted: int = 0
    modified: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return self.granted + self.modified + self.withdrawn

    def count(self, spec: EventSpec | None) -> None:
        if spec is None:
            self.unchanged += 1
        elif spec is AGREMENT_GRANTED:
            self.granted += 1
        elif spec is AGREMENT_WITHDRAWN:
            self.withdrawn += 1
        else:
            self.modified += 1


def event_for(previous: dict | None, record: AgrementRecord, fingerprint: str) -> EventSpec | None:
    """Which event an extract row means, given what we knew (None: nothing to say)."""
    if previous is None:
        return AGREMENT_GRANTED
    if previous["fingerprint"] == fingerprint:
        return None
    if record.status.value in ENDING_STATUSES and previous["status"] not in ENDING_STATUSES:
        return AGREMENT_WITHDRAWN
    return AGREMENT_MODIFIED


def _columns(record: AgrementRecord) -> dict:
    names = [column.name for column in agrements.columns
             if column.name not in ("record", "fingerprint", "created_at", "updated_at",
                                    "publication_contact_hidden")]   # the back office's, not the extract's
    values = {name: getattr(record, name) for name in names}
    values["status"] = record.status.value
    values["place_type"] = record.place_type.value
    return values


def _changed_fields(previous_record: dict, current: dict) -> list[str]:
    return sorted(name for name in current if previous_record.get(name) != current[name])


def apply_batch(uow: UnitOfWork, records: list[AgrementRecord], report: ImportReport) -> None:
    session = uow.session
    numbers = [record.pmi_number for record in records]
    known = {row["pmi_number"]: row for row in session.execute(
        sa.select(agrements.c.pmi_number, agrements.c.fingerprint, agrements.c.status, agrements.c.record)
        .where(agrements.c.pmi_number.in_(numbers))).mappings()}
    now = dt.datetime.now(dt.timezone.utc)
    new_rows: list[dict] = []
    history_rows: list[dict] = []
    for record in records:
        fingerprint = record_fingerprint(record)
        previous = known.get(record.pmi_number)
        spec = event_for(previous, record, fingerprint)
        report.count(spec)
        if spec is None:
            continue
        data = record_to_dict(record)
        values = {**_columns(record), "record": data, "fingerprint": fingerprint, "updated_at": now}
        if previous is None:
            new_rows.append({**values, "created_at": now})
        else:
            session.execute(agrements.update().where(agrements.c.pmi_number == record.pmi_number).values(**values))
            changed = _changed_fields(previous["record"], data)
            data = {**data, "changed_fields": changed}
            # The agrément's history (its Agrément tab) shows what the PMI's extract changed, beside staff decisions;
            # the birth date is never shown back.
            history_rows.append({
                "id": uuid.uuid4().hex, "pmi_number": record.pmi_number, "at": now, "action": "extract",
                "reason": None, "actor": "extract",
                "changes": {name: [previous["record"].get(name), data[name]] for name in changed
                            if name != "birth_date"}})
        uow.add_event(spec.build(record.pmi_number, data))
    if new_rows:  # one executemany: per-row statements made imports of a whole département crawl
        session.execute(agrements.insert(), new_rows)
    if history_rows:
        session.execute(agrement_history.insert(), history_rows)


def import_extract(session_factory: sessionmaker, lines: Iterable[str], file_name: str, *, batch_size: int = 500,
                   on_row: Callable[[], None] | None = None) -> ImportReport:
    """Read `lines` (a text file opened with newline=""), apply valid rows, collect rejections with line numbers.

    Raises ExtractFormatError (bad header, unreadable CSV) before anything is applied for a header problem; an
    unreadable row later in the file stops the import after the batches already applied (re-running is safe).
    """
    report = ImportReport(run_id=uuid.uuid4().hex)
    started = dt.datetime.now(dt.timezone.utc)
    batch: list[AgrementRecord] = []

    def flush() -> None:
        if batch:
            with UnitOfWork(session_factory) as uow:
                apply_batch(uow, batch, report)
                uow.commit()
            batch.clear()

    for _line, item in iter_extract(lines):
        report.rows_read += 1
        if on_row is not None:
            on_row()
        if isinstance(item, Rejection):
            report.rejections.append(item)
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    flush()
    with UnitOfWork(session_factory) as uow:
        uow.session.execute(import_runs.insert().values(
            id=report.run_id, file_name=file_name[:300], started_at=started,
            finished_at=dt.datetime.now(dt.timezone.utc), rows_read=report.rows_read, granted=report.granted,
            modified=report.modified, withdrawn=report.withdrawn, unchanged=report.unchanged,
            rejected=len(report.rejections),
            rejections=[{"line": r.line, "pmi_number": r.pmi_number, "reasons": r.reasons}
                        for r in report.rejections[:10_000]]))
        uow.commit()
    return report
