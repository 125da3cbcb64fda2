"""Writing reports: an assmat submits one; staff move it on. Each step is a row change and an event, together."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from agrement.adapters.orm import agrements, report_attachments, situation_reports
from agrement.reports.domain import RECEIVED, Report, check_transition
from services.catalogue.agrement import REPORT_RECEIVED, REPORT_STATUS_CHANGED
from services.db import UnitOfWork
from services.web import ApiError


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _event_data(report: dict, holder: dict, *, at: dt.datetime) -> dict:
    return {"report_id": report["id"], "pmi_number": report["pmi_number"],
            "circonscription": report["circonscription"], "kind": report["kind"], "status": report["status"],
            "message": report.get("staff_message"), "email": holder["email"], "first_name": holder["first_name"],
            "last_name": holder["last_name"], "at": at.isoformat()}


def _holder(session, pmi_number: str) -> dict | None:
    return session.execute(sa.select(agrements.c.pmi_number, agrements.c.email, agrements.c.first_name,
                                     agrements.c.last_name, agrements.c.circonscription)
                           .where(agrements.c.pmi_number == pmi_number)).mappings().first()


def submit_report(uow: UnitOfWork, pmi_number: str, report: Report) -> dict:
    """Store a checked report for the holder of that agrément, routed to its circonscription (one transaction)."""
    holder = _holder(uow.session, pmi_number)
    if holder is None:
        raise ApiError(404, "agrement_not_found", "Aucun agrément connu pour ce numéro de dossier.")
    now = _now()
    row = {"id": uuid.uuid4().hex, "pmi_number": pmi_number, "circonscription": holder["circonscription"],
           "kind": report.kind, "details": report.details, "text": report.text, "status": RECEIVED,
           "staff_message": None, "created_at": now, "updated_at": now}
    uow.session.execute(situation_reports.insert().values(**row))
    for attachment in report.attachments:
        uow.session.execute(report_attachments.insert().values(
            id=uuid.uuid4().hex, report_id=row["id"], file_name=attachment.file_name,
            content_type=attachment.content_type, size=attachment.size, content=attachment.content))
    uow.add_event(REPORT_RECEIVED.build(row["id"], _event_data(row, holder, at=now)))
    return row


def move_report(uow: UnitOfWork, report_id: str, target: str, message: str, allowed) -> dict:
    """Staff move a report to `target`; `allowed(circonscription)` says whether this agent may (scope)."""
    session = uow.session
    report = session.execute(sa.select(situation_reports).where(situation_reports.c.id == report_id)
                             .with_for_update()).mappings().first()
    if report is None or not allowed(report["circonscription"]):
        raise ApiError(404, "not_found", "Signalement introuvable dans votre circonscription.")
    problem = check_transition(report["status"], target, message or "")
    if problem:
        code, text = problem
        field = "message" if code == "invalid_message" else "status"
        raise ApiError(409 if code == "invalid_transition" else 400, code, text, {"fields": {field: text}})
    now = _now()
    message = (message or "").strip() or None
    session.execute(situation_reports.update().where(situation_reports.c.id == report_id)
                    .values(status=target, staff_message=message, updated_at=now))
    holder = _holder(session, report["pmi_number"])
    updated = {**report, "status": target, "staff_message": message, "updated_at": now}
    uow.add_event(REPORT_STATUS_CHANGED.build(report_id, {**_event_data(updated, holder, at=now),
                                                         "previous_status": report["status"]}))
    return updated
