"""What staff see of the audit trail: failures and refusals over the last minute and hour, per action, and the
spikes of the last day."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from identity.adapters.orm import audit_log
from services.db import UnitOfWork

NOT_SUCCESS = ("failure", "throttled", "captcha_required", "captcha_wrong")
SPIKE_ACTION = "security_spike"


def security_summary(uow: UnitOfWork, now: dt.datetime, spike_threshold: int, live_failures_this_minute: int) -> dict:
    session = uow.session
    minute_ago, hour_ago, day_ago = now - dt.timedelta(minutes=1), now - dt.timedelta(hours=1), \
        now - dt.timedelta(days=1)
    failures = sa.and_(audit_log.c.outcome.in_(NOT_SUCCESS), audit_log.c.action != SPIKE_ACTION)

    def count(*where) -> int:
        return int(session.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where)).scalar() or 0)

    by_action = {action: {"failures": int(n)} for action, n in session.execute(
        sa.select(audit_log.c.action, sa.func.count()).where(failures, audit_log.c.at > hour_ago)
        .group_by(audit_log.c.action)).all()}
    for action, n in session.execute(
            sa.select(audit_log.c.action, sa.func.count()).where(audit_log.c.outcome == "throttled",
                                                                 audit_log.c.at > hour_ago)
            .group_by(audit_log.c.action)).all():
        by_action.setdefault(action, {"failures": 0})["throttled"] = int(n)
    spikes = session.execute(sa.select(audit_log.c.at, audit_log.c.detail)
                             .where(audit_log.c.action == SPIKE_ACTION, audit_log.c.at > day_ago)
                             .order_by(audit_log.c.at.desc()).limit(20)).all()
    distinct_ips = int(session.execute(sa.select(sa.func.count(sa.distinct(audit_log.c.ip)))
                                       .where(failures, audit_log.c.at > hour_ago)).scalar() or 0)
    return {
        "at": now.isoformat(),
        "spike_threshold_per_minute": spike_threshold,
        "failures_this_minute": live_failures_this_minute,
        "failures_last_minute": count(failures, audit_log.c.at > minute_ago),
        "failures_last_hour": count(failures, audit_log.c.at > hour_ago),
        "throttled_last_hour": count(audit_log.c.outcome == "throttled", audit_log.c.at > hour_ago),
        "successes_last_hour": count(audit_log.c.outcome == "success", audit_log.c.at > hour_ago),
        "distinct_ips_failing_last_hour": distinct_ips,
        "by_action_last_hour": by_action,
        "spikes_last_day": len(spikes),
        "spikes": [{"at": at.isoformat() if hasattr(at, "isoformat") else str(at),
                    **(json.loads(detail) if detail else {})} for at, detail in spikes],
    }
