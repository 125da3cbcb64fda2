"""Read side of the capacity engine: an assmat's situation (agrément limits, children, exceptional days) from the
tables, and the week as the engine sees it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from agrement.adapters.orm import agrements, contracts, over_capacity_declarations, own_children
from agrement.capacity import domain
from agrement.contracts.domain import slots_of

MAX_WEEKS_CHECKED = 26   # a save checks the weeks that start at each change ahead, up to this many


@dataclass
class Situation:
    pmi_number: str
    circonscription: str
    limits: domain.Limits
    cared: list[domain.CaredChild]
    own: list[domain.OwnChild]
    exceptional_days: frozenset[dt.date]
    exception_periods: list[domain.ExceptionPeriod]
    status: str = "active"
    validity_end: dt.date | None = None


def situation(session: Session, pmi_number: str) -> Situation | None:
    row = session.execute(sa.select(agrements.c.circonscription, agrements.c.capacity_total,
                                     agrements.c.capacity_under_3, agrements.c.status, agrements.c.validity_end)
                          .where(agrements.c.pmi_number == pmi_number)).first()
    if row is None:
        return None
    cared = [domain.CaredChild(r.id, r.child_birth_date, r.start_date, r.end_date, slots_of(r.schedule))
             for r in session.execute(sa.select(contracts).where(contracts.c.pmi_number == pmi_number,
                                                                 contracts.c.erased_at.is_(None)))]
    own = [domain.OwnChild(r.birth_date)
           for r in session.execute(sa.select(own_children.c.birth_date)
                                    .where(own_children.c.pmi_number == pmi_number))]
    periods = [domain.ExceptionPeriod(r.start_date, r.end_date)
               for r in session.execute(sa.select(over_capacity_declarations.c.start_date,
                                                  over_capacity_declarations.c.end_date)
                                        .where(over_capacity_declarations.c.pmi_number == pmi_number))]
    days = frozenset(day for period in periods for day in period.days())
    return Situation(pmi_number, row.circonscription, domain.Limits(row.capacity_total, row.capacity_under_3),
                     cared, own, days, periods, row.status, row.validity_end)


def exceedances(found: Situation, cared: list[domain.CaredChild], from_date: dt.date) -> list[domain.Exceedance]:
    """Every moment that breaks L421-4 from `from_date` on, for these children under contract: the week from that
    day and the week from each later arrival, departure, or start or end of an exceptional period (between two of
    them the weeks repeat; a child's birthday within them is not a change point)."""
    starts = {from_date}
    changes = [(c.start_date, c.end_date) for c in cared] + [(p.start, p.end) for p in found.exception_periods]
    for first, last in changes:
        for day in (first, last and last + dt.timedelta(days=1)):
            if day is not None and day > from_date:
                starts.add(day)
    seen, result = set(), []
    for start in sorted(starts)[:MAX_WEEKS_CHECKED]:
        for exceedance in domain.week_exceedances(start, cared, found.own, found.limits, found.exceptional_days):
            key = (exceedance.date, exceedance.start)
            if key not in seen:
                seen.add(key)
                result.append(exceedance)
    return sorted(result, key=lambda e: (e.date, e.start))


def as_json(exceedance: domain.Exceedance) -> dict:
    return {"date": exceedance.date.isoformat(), "start": domain.hhmm(exceedance.start),
            "end": domain.hhmm(exceedance.end), "label": exceedance.label, "exceptional": exceedance.exceptional,
            "rules": [b.rule for b in exceedance.breaches], "messages": [b.message for b in exceedance.breaches],
            "articles": sorted({b.article for b in exceedance.breaches})}


def week(found: Situation, week_start: dt.date) -> list[dict]:
    """The 7 days from `week_start`: each interval with children present, the counts of L421-4 and its breaches."""
    days = []
    for offset in range(7):
        on = week_start + dt.timedelta(days=offset)
        exceptional = on in found.exceptional_days
        intervals = [{"start": domain.hhmm(start), "end": domain.hhmm(end), "cared": c.cared,
                      "cared_under_3": c.cared_under_3, "minors_under_11": c.minors_under_11, "under_3": c.under_3,
                      "breaches": [b.message for b in broken]}
                     for start, end, c, broken in domain.day_timeline(on, found.cared, found.own, found.limits,
                                                                      exceptional)]
        days.append({"date": on.isoformat(), "weekday": domain.WEEKDAYS[on.weekday()], "exceptional": exceptional,
                     "intervals": intervals})
    return days
