"""The gates every endpoint of this branch goes through: throttling (`identity.defences`) and audit
(`identity.audit`), both written by part A of issue 6.

SHIM, until part A is merged: when those modules are absent, `check` lets everything through (no throttling),
`record_failure`/`record_success` do nothing and `audit` writes a structured log line instead of an `audit_log`
row. Once merged, these forward to A's functions with the contract's signatures; nothing else here changes.
"""
from __future__ import annotations

import logging

try:  # part A's modules, once merged
    from identity import defences as _defences  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the merge
    _defences = None
try:
    from identity import audit as _audit  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the merge
    _audit = None

log = logging.getLogger("identity.audit")


def client_ip() -> str:
    """The caller's address: the kernel's `client_ip` (trusted proxies) once part A adds it, else the peer's."""
    from flask import current_app, request
    try:
        from services.web import client_ip as kernel_client_ip  # type: ignore[attr-defined]
    except ImportError:
        return request.remote_addr or ""
    settings = current_app.extensions["identity"].settings
    return kernel_client_ip(request, getattr(settings, "trusted_proxies", ()))


def check(action: str, identifier: str, ip: str) -> None:
    """Before the attempt: raises part A's refusal (captcha_required, too_many_attempts) when it must wait."""
    if _defences is not None:
        _defences.check(action, identifier, ip)


def record_failure(action: str, identifier: str, ip: str) -> None:
    if _defences is not None:
        _defences.record_failure(action, identifier, ip)


def record_success(action: str, identifier: str, ip: str) -> None:
    if _defences is not None:
        _defences.record_success(action, identifier, ip)


def audit(uow, action: str, outcome: str, *, account_id: str | None = None, identifier: str | None = None,
          ip: str | None = None, detail: str | None = None) -> None:
    """One audit event per attempt, written in the caller's transaction (part A's table) or logged (shim)."""
    if _audit is not None:
        _audit.record(uow, action, outcome, account_id=account_id, identifier=identifier, ip=ip, detail=detail)
        return
    log.info("audit", extra={"action": action, "outcome": outcome, "account_id": account_id,
                             "identifier": _masked(identifier), "ip": ip, "detail": detail})


def _masked(identifier: str | None) -> str | None:
    if not identifier:
        return identifier
    local, at, domain = identifier.partition("@")
    return f"{local[:1]}•••{at}{domain}" if at else f"{identifier[:2]}•••"
