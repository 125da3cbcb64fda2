"""Writing to the audit trail.

`record(uow_or_session, action, outcome, ...)` adds a row to the caller's transaction (it commits with the change
it describes). A refusal rolls its transaction back, so the gates record refusals with `record_now`, in a
transaction of their own.
"""
from __future__ import annotations

import datetime as dt
import logging

from identity.adapters.orm import audit_log
from identity.audit.domain import clean_detail, masked_identifier

log = logging.getLogger("identity.audit")

# Outcomes: success, failure (wrong secret or refused), throttled (too_many_attempts), captcha_required,
# captcha_wrong, alert (a spike).


def _row(action: str, outcome: str, *, account_id: str | None, identifier: str | None, ip: str | None,
         detail: dict | None, at: dt.datetime | None) -> dict:
    return {"at": at or dt.datetime.now(dt.timezone.utc), "action": action[:40], "outcome": outcome[:30],
            "account_id": account_id, "identifier": masked_identifier(identifier), "ip": (ip or None) and ip[:64],
            "detail": clean_detail(detail)}


def record(uow_or_session, action: str, outcome: str, *, account_id: str | None = None,
           identifier: str | None = None, ip: str | None = None, detail: dict | None = None,
           at: dt.datetime | None = None) -> None:
    session = getattr(uow_or_session, "session", uow_or_session)
    session.execute(audit_log.insert().values(**_row(action, outcome, account_id=account_id, identifier=identifier,
                                                     ip=ip, detail=detail, at=at)))


def record_now(session_factory, action: str, outcome: str, **fields) -> None:
    """The same in its own transaction. Never fails the request it describes: a trail that cannot be written is
    logged instead."""
    try:
        with session_factory() as session, session.begin():
            record(session, action, outcome, **fields)
    except Exception:
        log.exception("audit row not written", extra={"action": action, "outcome": outcome})
