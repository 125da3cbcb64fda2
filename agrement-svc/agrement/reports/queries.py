"""Reading reports: the assmat's own, the back office's list (scoped), one report with its attachments."""
from __future__ import annotations

import sqlalchemy as sa

from agrement.adapters.orm import agrements, report_attachments, situation_reports
from agrement.reports.domain import KINDS, STATUS_LABELS

LIST_LIMIT = 500


def report_json(row, attachments=()) -> dict:
    return {"id": row["id"], "pmi_number": row["pmi_number"], "circonscription": row["circonscription"],
            "kind": row["kind"], "kind_label": KINDS.get(row["kind"], row["kind"]), "details": row["details"],
            "text": row["text"], "status": row["status"], "status_label": STATUS_LABELS.get(row["status"]),
            "staff_message": row["staff_message"], "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
            "attachments": [{"id": a["id"], "file_name": a["file_name"], "content_type": a["content_type"],
                             "size": a["size"]} for a in attachments]}


def _attachments_by_report(session, ids: list[str]) -> dict[str, list]:
    found: dict[str, list] = {}
    if ids:
        rows = session.execute(sa.select(report_attachments.c.id, report_attachments.c.report_id,
                                         report_attachments.c.file_name, report_attachments.c.content_type,
                                         report_attachments.c.size)
                               .where(report_attachments.c.report_id.in_(ids))).mappings()
        for row in rows:
            found.setdefault(row["report_id"], []).append(row)
    return found


def own_reports(session, pmi_number: str) -> list[dict]:
    rows = session.execute(sa.select(situation_reports).where(situation_reports.c.pmi_number == pmi_number)
                           .order_by(situation_reports.c.created_at.desc()).limit(LIST_LIMIT)).mappings().all()
    attachments = _attachments_by_report(session, [row["id"] for row in rows])
    return [report_json(row, attachments.get(row["id"], ())) for row in rows]


def backoffice_reports(session, circonscriptions: tuple[str, ...] | None, status: str | None = None) -> list[dict]:
    """Reports of those circonscriptions (None: all), oldest open first, with the holder's name."""
    query = (sa.select(situation_reports, agrements.c.first_name, agrements.c.last_name)
             .join(agrements, agrements.c.pmi_number == situation_reports.c.pmi_number))
    if circonscriptions is not None:
        query = query.where(situation_reports.c.circonscription.in_(circonscriptions or ("",)))
    if status:
        query = query.where(situation_reports.c.status == status)
    rows = session.execute(query.order_by(situation_reports.c.created_at).limit(LIST_LIMIT)).mappings().all()
    attachments = _attachments_by_report(session, [row["id"] for row in rows])
    return [{**report_json(row, attachments.get(row["id"], ())), "first_name": row["first_name"],
             "last_name": row["last_name"]} for row in rows]


def one_report(session, report_id: str) -> dict | None:
    row = session.execute(sa.select(situation_reports, agrements.c.first_name, agrements.c.last_name)
                          .join(agrements, agrements.c.pmi_number == situation_reports.c.pmi_number)
                          .where(situation_reports.c.id == report_id)).mappings().first()
    if row is None:
        return None
    attachments = _attachments_by_report(session, [report_id]).get(report_id, ())
    return {**report_json(row, attachments), "first_name": row["first_name"], "last_name": row["last_name"]}


def attachment(session, report_id: str, attachment_id: str):
    return session.execute(sa.select(report_attachments).where(report_attachments.c.id == attachment_id,
                                                               report_attachments.c.report_id == report_id)
                           ).mappings().first()
