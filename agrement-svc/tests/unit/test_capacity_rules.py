"""The capacity engine against the CASF, as a table: each case cites the article it checks."""
from __future__ import annotations

import datetime as dt

import pytest

from agrement.capacity.domain import (
    CaredChild, ExceptionPeriod, Limits, OwnChild, Slot, check_exception, day_exceedances, is_late, peak_under_11,
    week_exceedances)

MONDAY = dt.date(2026, 3, 2)
BABY = dt.date(2025, 6, 1)        # under 3 on MONDAY
TODDLER = dt.date(2024, 1, 10)    # under 3
PUPIL = dt.date(2019, 5, 5)       # 6 years old: under 11, over 3
TEEN = dt.date(2013, 1, 1)        # 13: outside the minors-under-11 total


def cared(n, birth, start=8 * 60, end=18 * 60, weekday=0, prefix="c"):
    return [CaredChild(f"{prefix}{i}", birth, dt.date(2026, 1, 1), None, (Slot(weekday, start, end),))
            for i in range(n)]


def rules(exceedances):
    return sorted({b.rule for e in exceedances for b in e.breaches})


# (article, what, agrément places/under-3 places, children under contract, own children, exceptional, rules broken)
CASES = [
    ("L421-4", "4 places full: allowed", (4, 4), cared(4, PUPIL), [], False, []),
    ("L421-4", "a 5th child over 4 places", (4, 4), cared(5, PUPIL), [], False, ["places"]),
    ("L421-4", "the agrément's own number (3) is the limit", (3, 3), cared(4, PUPIL), [], False, ["places"]),
    ("L421-4", "an agrément written for 5 still allows only 4", (5, 4), cared(5, PUPIL), [], False, ["places"]),
    ("L421-4", "under-3 places of the agrément", (4, 2), cared(3, BABY), [], False, ["places_under_3"]),
    ("L421-4", "6 minors under 11 with her own: allowed", (4, 4), cared(4, PUPIL), [OwnChild(PUPIL)] * 2, False, []),
    ("L421-4", "7 minors under 11 with her own", (4, 4), cared(4, PUPIL), [OwnChild(PUPIL)] * 3, False,
     ["minors_under_11"]),
    ("L421-4", "her own over 11 count in no total", (4, 4), cared(4, PUPIL), [OwnChild(TEEN)] * 3, False, []),
    ("L421-4", "a cared child of 11+ takes a place but not the under-11 total", (4, 4),
     cared(4, TEEN), [OwnChild(PUPIL)] * 5, False, []),
    ("L421-4", "4 under 3 with her own under-3: allowed, her own take no place", (4, 3),
     cared(3, BABY), [OwnChild(TODDLER)], False, []),
    ("L421-4 (2021)", "her own under-3 count in the 4 under 3", (4, 4),
     cared(4, BABY), [OwnChild(TODDLER)], False, ["under_3"]),
    ("L421-4 (2021)", "her own under-3 never take a place", (2, 2), cared(2, BABY), [OwnChild(TODDLER)] * 2, False,
     []),
    ("L421-4 III", "+2 exceptional: 6 cared on 4 places", (4, 4), cared(6, PUPIL), [], True, []),
    ("L421-4 III", "+2 exceptional, not a 7th", (4, 4), cared(7, PUPIL), [], True, ["places"]),
    ("L421-4 III", "+2 exceptional: 8 minors under 11", (4, 4), cared(6, PUPIL), [OwnChild(PUPIL)] * 2, True, []),
    ("L421-4 III", "+2 exceptional: not 9 minors under 11", (4, 4), cared(6, PUPIL), [OwnChild(PUPIL)] * 3, True,
     ["minors_under_11"]),
    ("L421-4 III", "+2 exceptional: still 4 under 3", (4, 4), cared(5, BABY), [], True, ["under_3"]),
    ("L421-4", "without an exception the same 6 are refused", (4, 4), cared(6, PUPIL), [], False, ["places"]),
]


@pytest.mark.parametrize("article,what,limits,children,own,exceptional,broken", CASES,
                         ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_l421_4(article, what, limits, children, own, exceptional, broken):
    found = day_exceedances(MONDAY, children, own, Limits(*limits), exceptional)
    assert rules(found) == broken
    assert all(b.article == "L421-4" for e in found for b in e.breaches)


def test_l421_4_counts_only_children_present_together():
    # 4 in the morning, 4 others in the afternoon: 8 contracts, never more than 4 at the same time (L421-4).
    morning = cared(4, PUPIL, 8 * 60, 12 * 60, prefix="m")
    afternoon = cared(4, PUPIL, 13 * 60, 18 * 60, prefix="a")
    assert day_exceedances(MONDAY, morning + afternoon, [], Limits(4, 4)) == []
    overlap = cared(1, PUPIL, 11 * 60, 14 * 60, prefix="o")
    found = day_exceedances(MONDAY, morning + afternoon + overlap, [], Limits(4, 4))
    assert [(e.start, e.end, e.counts.cared) for e in found] == [(11 * 60, 12 * 60, 5), (13 * 60, 14 * 60, 5)]
    assert found[0].label == "lundi 02/03/2026 de 11h00 à 12h00"


def test_l421_4_her_own_children_alone_break_nothing():
    # L421-4 counts her own only while she looks after others: no child under contract present, no breach.
    assert day_exceedances(MONDAY, cared(1, PUPIL, weekday=1), [OwnChild(BABY)] * 5, Limits(4, 4)) == []


def test_l421_4_contracts_outside_their_dates_are_not_present():
    ended = [CaredChild("x", PUPIL, dt.date(2025, 1, 1), dt.date(2026, 2, 27), (Slot(0, 480, 1080),))]
    assert day_exceedances(MONDAY, cared(4, PUPIL) + ended, [], Limits(4, 4)) == []


def test_l421_4_iii_the_week_uses_exceptional_limits_on_declared_days_only():
    children = cared(5, PUPIL, weekday=0) + cared(5, PUPIL, weekday=1, prefix="t")
    found = week_exceedances(MONDAY, children, [], Limits(4, 4), frozenset({MONDAY}))
    assert [e.date for e in found] == [MONDAY + dt.timedelta(days=1)]


def test_l421_4_a_child_turning_3_leaves_the_under_3_total():
    turns_3 = dt.date(2023, 3, 2)      # 3 on MONDAY
    children = cared(4, BABY) + [CaredChild("x", turns_3, dt.date(2026, 1, 1), None, (Slot(0, 480, 1080),))]
    assert rules(day_exceedances(MONDAY, children, [], Limits(5, 4))) == ["places"]


def test_d421_17_day_total_of_under_11s():
    assert peak_under_11(MONDAY, cared(3, PUPIL) + cared(2, TEEN, prefix="t"), [OwnChild(PUPIL)]) == 4


@pytest.mark.parametrize("article,effective,declared,late", [
    ("R421-39", dt.date(2026, 3, 2), dt.date(2026, 3, 10), False),    # the 8th day: in time
    ("R421-39", dt.date(2026, 3, 2), dt.date(2026, 3, 11), True),     # the 9th: late
    ("R421-39", dt.date(2026, 3, 2), dt.date(2026, 2, 20), False),    # declared ahead
])
def test_r421_39_eight_days(article, effective, declared, late):
    assert is_late(effective, declared) is late


UTC = dt.timezone.utc


@pytest.mark.parametrize("article,period,earlier,declared_at,errors,late", [
    ("D421-17", (dt.date(2026, 7, 1), dt.date(2026, 7, 10)), [], dt.datetime(2026, 7, 2, 12, tzinfo=UTC), [], False),
    ("D421-17", (dt.date(2026, 7, 1), dt.date(2026, 7, 10)), [], dt.datetime(2026, 7, 3, 1, tzinfo=UTC), [], True),
    ("D421-17", (dt.date(2026, 7, 1), dt.date(2026, 8, 24)), [], dt.datetime(2026, 7, 1, tzinfo=UTC), [], False),
    ("D421-17", (dt.date(2026, 7, 1), dt.date(2026, 8, 25)), [], dt.datetime(2026, 7, 1, tzinfo=UTC),
     ["end_date"], False),
    ("D421-17", (dt.date(2026, 10, 1), dt.date(2026, 10, 10)), [(dt.date(2026, 7, 1), dt.date(2026, 8, 15))],
     dt.datetime(2026, 10, 1, tzinfo=UTC), ["end_date"], False),
    # a day declared twice counts once; last year's days count for last year
    ("D421-17", (dt.date(2026, 8, 1), dt.date(2026, 8, 20)), [(dt.date(2026, 7, 1), dt.date(2026, 8, 15)),
                                                            (dt.date(2025, 7, 1), dt.date(2025, 8, 20))],
     dt.datetime(2026, 8, 1, tzinfo=UTC), [], False),
    ("D421-17", (dt.date(2026, 7, 10), dt.date(2026, 7, 1)), [], dt.datetime(2026, 7, 1, tzinfo=UTC),
     ["end_date"], False),
])
def test_d421_17_55_days_a_calendar_year_told_within_48_hours(article, period, earlier, declared_at, errors, late):
    check = check_exception(ExceptionPeriod(*period), [ExceptionPeriod(*p) for p in earlier], declared_at, "vacances")
    assert sorted(check.errors) == errors
    assert check.late is late


def test_d421_17_the_48_hours_run_from_midnight_in_the_departement():
    # 1 July 00:00 in Paris is 30 June 22:00 UTC: 48 h later is 2 July 22:00 UTC.
    period = ExceptionPeriod(dt.date(2026, 7, 1), dt.date(2026, 7, 1))
    assert check_exception(period, [], dt.datetime(2026, 7, 2, 21, 59, tzinfo=UTC), "x").late is False
    assert check_exception(period, [], dt.datetime(2026, 7, 2, 22, 1, tzinfo=UTC), "x").late is True


def test_d421_17_a_reason_is_required():
    check = check_exception(ExceptionPeriod(MONDAY, MONDAY), [], dt.datetime(2026, 3, 2, tzinfo=UTC), "  ")
    assert "reason" in check.errors
