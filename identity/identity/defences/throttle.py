"""Counting attempts in the expiring store, deciding locks and captchas, writing the audit trail.

Keys (in the store's namespace): `fail:<action>:id:<hash>` and `fail:<action>:ip:<ip>` (failures in their window),
`use:...` (quotas), `lock:<action>:id|ip:...` (value: when the lock ends), `fail:<action>:g:<minute>` and
`spike:<minute>` (per-minute counts). Identifiers are hashed: the store never holds an e-mail or number in clear.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from collections.abc import Callable

from identity.accounts.domain.refusals import Refusal
from identity.audit.commands import record_now
from identity.captcha.commands import solve
from identity.defences.domain import SPIKE_THRESHOLD_PER_MINUTE, captcha_required, is_spike, policy

log = logging.getLogger("identity.defences")


class Throttled(Refusal):
    """429 too_many_attempts: `retry_after` seconds until the lock ends."""

    def __init__(self, retry_after: int):
        super().__init__("too_many_attempts")
        self.retry_after = max(1, int(retry_after))


def _hash(identifier) -> str:
    return hashlib.sha256(str(identifier or "").strip().lower().encode()).hexdigest()[:32]


class Throttle:
    def __init__(self, store, clock: Callable[[], dt.datetime], session_factory,
                 spike_threshold: int = SPIKE_THRESHOLD_PER_MINUTE):
        self.store, self.clock, self.session_factory = store, clock, session_factory
        self.spike_threshold = spike_threshold

    # --- reading ----------------------------------------------------------------------------------------------

    def _now(self) -> tuple[dt.datetime, float]:
        now = self.clock()
        return now, now.timestamp()

    def _lock_remaining(self, key: str, ts: float) -> int | None:
        value = self.store.get(key, now=ts)
        if value is None:
            return None
        try:
            return max(1, math.ceil(float(value) - ts))
        except ValueError:
            return None

    def captcha_needed(self, action: str, identifier, ip: str) -> bool:
        rule = policy(action)
        if rule.counts != "failures":
            return False
        _, ts = self._now()
        return captcha_required(rule, self.store.count(f"fail:{action}:id:{_hash(identifier)}", now=ts),
                                self.store.count(f"fail:{action}:ip:{ip}", now=ts),
                                self.store.count(f"fail:{action}:g:{int(ts // 60)}", now=ts))

    def failures_this_minute(self) -> int:
        _, ts = self._now()
        return self.store.count(f"spike:{int(ts // 60)}", now=ts)

    # --- the gates ----------------------------------------------------------------------------------------------

    def check(self, action: str, identifier, ip: str, *, captcha_id=None, captcha_answer=None) -> None:
        """Before an attempt: refuse when the identifier or the address is locked (429), when a quota is spent
        (429), when the captcha is required and missing (428) or wrong (400, counted as a failure)."""
        rule = policy(action)
        now, ts = self._now()
        id_hash = _hash(identifier)
        for scope, key in (("identifier", f"lock:{action}:id:{id_hash}"), ("ip", f"lock:{action}:ip:{ip}")):
            remaining = self._lock_remaining(key, ts)
            if remaining is not None:
                self._refused(action, identifier, ip, "throttled", now, {"scope": scope, "retry_after": remaining})
                raise Throttled(remaining)
        if rule.counts == "uses":
            self._spend(action, rule, identifier, id_hash, ip, now, ts)
            return
        if captcha_required(rule, self.store.count(f"fail:{action}:id:{id_hash}", now=ts),
                            self.store.count(f"fail:{action}:ip:{ip}", now=ts),
                            self.store.count(f"fail:{action}:g:{int(ts // 60)}", now=ts)):
            if captcha_id in (None, "") or captcha_answer in (None, ""):
                self._refused(action, identifier, ip, "captcha_required", now, None)
                raise Refusal("captcha_required")
            if not solve(self.store, captcha_id, captcha_answer, ts):
                self.record_failure(action, identifier, ip, outcome="captcha_wrong")
                raise Refusal("captcha_wrong")

    def _spend(self, action, rule, identifier, id_hash, ip, now, ts) -> None:
        used = self.store.hit(f"use:{action}:id:{id_hash}", rule.identifier_window, now=ts)
        used_ip = self.store.hit(f"use:{action}:ip:{ip}", rule.ip_window, now=ts)
        for scope, count, limit, window, key in (
                ("identifier", used, rule.identifier_limit, rule.identifier_window, f"lock:{action}:id:{id_hash}"),
                ("ip", used_ip, rule.ip_limit, rule.ip_window, f"lock:{action}:ip:{ip}")):
            if count > limit:
                # A quota ends with its window; the window's start is not kept, so the lock takes a whole one.
                self.store.put(key, str(ts + window), window, now=ts)
                self._refused(action, identifier, ip, "throttled", now, {"scope": scope, "retry_after": window})
                raise Throttled(window)
        if rule.global_limit is not None:
            used_global = self.store.hit(f"use:{action}:global", rule.global_window, now=ts)
            if used_global > rule.global_limit:
                self._refused(action, identifier, ip, "throttled", now,
                              {"scope": "global", "retry_after": rule.global_window})
                raise Throttled(rule.global_window)

    def record_failure(self, action: str, identifier, ip: str, *, account_id: str | None = None,
                       detail: dict | None = None, outcome: str = "failure") -> None:
        """After a wrong answer: count it for the identifier, the address and the minute; lock what passed its
        limit; audit; alert on a spike."""
        rule = policy(action)
        now, ts = self._now()
        id_hash = _hash(identifier)
        failures = self.store.hit(f"fail:{action}:id:{id_hash}", rule.identifier_window, now=ts)
        ip_failures = self.store.hit(f"fail:{action}:ip:{ip}", rule.ip_window, now=ts)
        self.store.hit(f"fail:{action}:g:{int(ts // 60)}", 120, now=ts)
        locked = []
        if failures >= rule.identifier_limit:
            self.store.put(f"lock:{action}:id:{id_hash}", str(ts + rule.lock_seconds), rule.lock_seconds, now=ts)
            locked.append("identifier")
        if ip_failures >= rule.ip_limit:
            self.store.put(f"lock:{action}:ip:{ip}", str(ts + rule.lock_seconds), rule.lock_seconds, now=ts)
            locked.append("ip")
        record_now(self.session_factory, action, outcome, account_id=account_id, identifier=identifier, ip=ip,
                   at=now, detail={**(detail or {}), "failures": failures, "ip_failures": ip_failures,
                                   **({"locked": locked} if locked else {})})
        self._count_for_spike(now, ts)

    def record_success(self, action: str, identifier, ip: str, *, account_id: str | None = None,
                       detail: dict | None = None, audited: bool = False) -> None:
        """After a right answer: the identifier's failures are forgiven (not the address's: one right password
        must not reset a spray of wrong ones from the same machine). `audited`: the command already wrote the
        success in its own transaction (staff login, with the account), so no second row."""
        now, _ = self._now()
        if policy(action).counts == "failures":
            self.store.delete(f"fail:{action}:id:{_hash(identifier)}")
        if not audited:
            record_now(self.session_factory, action, "success", account_id=account_id, identifier=identifier,
                       ip=ip, at=now, detail=detail)

    def record(self, action: str, outcome: str, identifier=None, ip: str | None = None, **fields) -> None:
        """An attempt that the gates did not count (a command run by staff, a link followed): audit only."""
        now, _ = self._now()
        record_now(self.session_factory, action, outcome, identifier=identifier, ip=ip, at=now, **fields)

    # --- refusals and spikes ------------------------------------------------------------------------------------

    def _refused(self, action, identifier, ip, outcome, now, detail) -> None:
        record_now(self.session_factory, action, outcome, identifier=identifier, ip=ip, at=now, detail=detail)
        self._count_for_spike(now, now.timestamp())

    def _count_for_spike(self, now: dt.datetime, ts: float) -> None:
        minute = int(ts // 60)
        count = self.store.hit(f"spike:{minute}", 120, now=ts)
        if is_spike(count, self.spike_threshold):
            log.warning("security spike", extra={"failures_this_minute": count, "threshold": self.spike_threshold,
                                                 "minute": dt.datetime.fromtimestamp(minute * 60,
                                                                                     dt.timezone.utc).isoformat()})
            record_now(self.session_factory, "security_spike", "alert", at=now,
                       detail={"failures_this_minute": count, "threshold": self.spike_threshold})


PURGE_EVERY_SECONDS = 300


def purge_expired_keys(container, stop) -> None:
    """The worker's sweep of the store: expired counters, locks and captcha answers leave the database table
    (Redis expires its keys itself; there this is a no-op)."""
    while not stop.wait(PURGE_EVERY_SECONDS):
        try:
            removed = container.store.purge()
            if removed:
                log.info("expired keys purged", extra={"keys": removed})
        except Exception:  # a database hiccup: the next sweep does it
            log.exception("expired keys not purged")
