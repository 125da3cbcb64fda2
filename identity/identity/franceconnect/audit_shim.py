"""Stand-in for part A's `identity.audit.record` until its branch is merged: same signature, logs the attempt.

The integrator replaces `from identity.franceconnect.audit_shim import record` by `from identity.audit import record`
and deletes this file.
"""
from __future__ import annotations

import logging

log = logging.getLogger("identity.audit")


def record(uow_or_session, action: str, outcome: str, *, account_id: str | None = None,
           identifier: str | None = None, ip: str | None = None, detail: str | None = None) -> None:
    log.info("audit", extra={"action": action, "outcome": outcome, "account_id": account_id,
                             "identifier": identifier, "ip": ip, "detail": detail})
