"""The delivery log as staff read it: who, which kind of mail, when, its status. Never the message itself."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from notify.adapters.orm import STATUSES, failing_addresses, mails


def delivery_log(session, *, recipient: str | None = None, template: str | None = None, status: str | None = None,
                 since: dt.datetime | None = None, limit: int = 100) -> list[dict]:
    query = sa.select(mails.c.id, mails.c.recipient, mails.c.template, mails.c.status, mails.c.attempts,
                      mails.c.created_at, mails.c.sent_at, mails.c.last_error, mails.c.smtp_code,
                      mails.c.message_id).order_by(mails.c.created_at.desc(), mails.c.id).limit(limit)
    if recipient:
        query = query.where(sa.func.lower(mails.c.recipient) == recipient.lower())
    if template:
        query = query.where(mails.c.template == template)
    if status:
        assert status in STATUSES
        query = query.where(mails.c.status == status)
    if since:
        query = query.where(mails.c.created_at >= since)
    return [{"id": str(row.id), "recipient": row.recipient, "kind": row.template, "status": row.status,
             "attempts": row.attempts, "created_at": _iso(row.created_at), "sent_at": _iso(row.sent_at),
             "error": row.last_error, "smtp_code": row.smtp_code, "message_id": row.message_id}
            for row in session.execute(query)]


def failing(session, address: str) -> dict | None:
    row = session.execute(sa.select(failing_addresses).where(
        failing_addresses.c.address == address.strip().lower())).first()
    return None if row is None else {"address": row.address, "reason": row.reason, "source": row.source,
                                     "marked_at": _iso(row.marked_at)}


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives naive datetimes back: they were written in UTC
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat(timespec="seconds")
