"""The gates as recovery and staff login call them: throttling (`identity.defences`) and the audit trail
(`identity.audit`), with the caller's address judged through the trusted proxies. One mechanism: these only
forward, so that those capabilities keep their explicit `ip` argument."""
from __future__ import annotations

from identity.audit.commands import record
from identity.defences import gates as _gates


def client_ip() -> str:
    return _gates.client_address()


def check(action: str, identifier: str, ip: str) -> None:
    """Before the attempt: raises the throttle's refusal (too_many_attempts, captcha_required) when it must wait."""
    _gates.check(action, identifier, ip=ip)


def record_failure(action: str, identifier: str, ip: str) -> None:
    _gates.record_failure(action, identifier, ip)


def record_success(action: str, identifier: str, ip: str, *, audited: bool = False) -> None:
    _gates.record_success(action, identifier, ip, audited=audited)


def audit(uow, action: str, outcome: str, *, account_id: str | None = None, identifier: str | None = None,
          ip: str | None = None, detail: str | None = None) -> None:
    """One audit row per attempt, written in the caller's transaction."""
    record(uow, action, outcome, account_id=account_id, identifier=identifier, ip=ip,
           detail={"reason": detail} if detail else None)
