"""Capacity rules of the CASF, pure (no framework, no database): an import-linter contract keeps it so.

- L421-4 (since the 2021 reform): the agrément sets how many children she may look after at the same time (at most
  4 places; its under-3 places too); whatever the agrément, the minors under 11 under her sole responsibility, her
  own included, are at most 6, of whom at most 4 under 3. Her own children never take a place of the agrément, but
  her own under-3s count in the 6/4 totals (and her own under-11s in the 6).
- L421-4 III: exceptionally (school holidays, a temporary or unforeseen need) 2 more children than the agrément
  allows, up to 8 minors under 11 (6 + 2), still at most 4 under 3.
- D421-17: that exception at most 55 days per calendar year, told to the département within 48 hours with the total
  of under-11s for each such day.
- R421-39: an arrival, a change and a departure are declared within 8 days.

Own children have no schedule here (the law asks only their first name and birth date): the engine counts them as
present at every moment, the safe side; a school-age child at school is not under her responsibility, which is why
her own children over 3 only weigh on the total of 6 (or 8), never on the places.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

MAX_PLACES = 4                      # L421-4: an agrément never allows more than 4 children at the same time
MAX_MINORS_UNDER_11 = 6             # L421-4: her minors under 11, own included
MAX_UNDER_3 = 4                     # L421-4: of whom at most 4 under 3
EXCEPTIONAL_EXTRA = 2               # L421-4 III: 2 more, exceptionally
EXCEPTION_DAYS_PER_YEAR = 55        # D421-17
EXCEPTION_NOTICE = dt.timedelta(hours=48)   # D421-17
DECLARATION_DAYS = 8                # R421-39
MINUTES_PER_DAY = 24 * 60
DEPARTEMENT_TIME = ZoneInfo("Europe/Paris")  # days are the département's calendar days
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def age_in_years(birth_date: dt.date, on: dt.date) -> int:
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def is_under(birth_date: dt.date, years: int, on: dt.date) -> bool:
    return age_in_years(birth_date, on) < years


@dataclass(frozen=True)
class Slot:
    """A weekly slot: weekday 0 (Monday) to 6, from `start` to `end`, minutes since midnight, start < end."""
    weekday: int
    start: int
    end: int


@dataclass(frozen=True)
class CaredChild:
    """A child under contract: takes a place of the agrément while present."""
    key: str
    birth_date: dt.date
    start_date: dt.date
    end_date: dt.date | None
    slots: tuple[Slot, ...]

    def present(self, on: dt.date, minute: int) -> bool:
        if on < self.start_date or (self.end_date is not None and on > self.end_date):
            return False
        weekday = on.weekday()
        return any(s.weekday == weekday and s.start <= minute < s.end for s in self.slots)


@dataclass(frozen=True)
class OwnChild:
    birth_date: dt.date


@dataclass(frozen=True)
class Limits:
    """What the agrément allows: its places and, of them, its under-3 places."""
    places: int
    places_under_3: int


@dataclass(frozen=True)
class Counts:
    cared: int
    cared_under_3: int
    minors_under_11: int
    under_3: int


@dataclass(frozen=True)
class Breach:
    rule: str           # places | places_under_3 | minors_under_11 | under_3
    count: int
    limit: int
    article: str
    message: str        # French: shown to the assmat and the PMI


@dataclass(frozen=True)
class Exceedance:
    """An interval of a given day when a rule is broken."""
    date: dt.date
    start: int
    end: int
    counts: Counts
    breaches: tuple[Breach, ...]
    exceptional: bool = False   # judged against the limits of L421-4 III (a declared exception covers that day)

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.date.weekday()]} {self.date:%d/%m/%Y} de {hhmm(self.start)} à {hhmm(self.end)}"


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}h{minutes % 60:02d}"


def count(cared: list[CaredChild], own: list[OwnChild], on: dt.date) -> Counts:
    """The children present together (`cared` already filtered to those present), as L421-4 counts them."""
    cared_under_3 = sum(is_under(c.birth_date, 3, on) for c in cared)
    cared_under_11 = sum(is_under(c.birth_date, 11, on) for c in cared)
    own_under_3 = sum(is_under(c.birth_date, 3, on) for c in own)
    own_under_11 = sum(is_under(c.birth_date, 11, on) for c in own)
    return Counts(cared=len(cared), cared_under_3=cared_under_3,
                  # A cared child of 11 or more still takes a place, but is outside the minors-under-11 total.
                  minors_under_11=cared_under_11 + own_under_11, under_3=cared_under_3 + own_under_3)


def breaches(counts: Counts, limits: Limits, exceptional: bool = False) -> tuple[Breach, ...]:
    """The rules of L421-4 that these counts break; `exceptional`: a day covered by a declared exception (L421-4
    III, D421-17), when 2 more children are allowed, and 8 minors under 11, still 4 under 3."""
    extra = EXCEPTIONAL_EXTRA if exceptional else 0
    places = min(limits.places, MAX_PLACES) + extra
    found = []
    if counts.cared > places:
        found.append(Breach("places", counts.cared, places, "L421-4",
                            f"{counts.cared} enfants accueillis pour {places} places d'agrément"))
    if counts.cared_under_3 > limits.places_under_3 + extra:
        found.append(Breach("places_under_3", counts.cared_under_3, limits.places_under_3 + extra, "L421-4",
                            f"{counts.cared_under_3} enfants de moins de 3 ans accueillis pour "
                            f"{limits.places_under_3 + extra} places de moins de 3 ans"))
    if counts.minors_under_11 > MAX_MINORS_UNDER_11 + extra:
        found.append(Breach("minors_under_11", counts.minors_under_11, MAX_MINORS_UNDER_11 + extra, "L421-4",
                            f"{counts.minors_under_11} mineurs de moins de 11 ans présents (vos enfants compris), "
                            f"au plus {MAX_MINORS_UNDER_11 + extra}"))
    if counts.under_3 > MAX_UNDER_3:
        found.append(Breach("under_3", counts.under_3, MAX_UNDER_3, "L421-4",
                            f"{counts.under_3} enfants de moins de 3 ans présents (vos enfants compris), "
                            f"au plus {MAX_UNDER_3}"))
    return tuple(found)


def _boundaries(cared: list[CaredChild], weekday: int) -> list[int]:
    points = {0, MINUTES_PER_DAY}
    for child in cared:
        for slot in child.slots:
            if slot.weekday == weekday:
                points.update((slot.start, slot.end))
    return sorted(points)


def day_exceedances(on: dt.date, cared: list[CaredChild], own: list[OwnChild], limits: Limits,
                    exceptional: bool = False) -> list[Exceedance]:
    """Every interval of that day when the children present break a rule, merged when they follow each other with
    the same counts."""
    found: list[Exceedance] = []
    points = _boundaries(cared, on.weekday())
    for start, end in zip(points, points[1:]):
        present = [c for c in cared if c.present(on, start)]
        if not present:
            continue    # L421-4 counts her own children only while she looks after others
        counts = count(present, own, on)
        broken = breaches(counts, limits, exceptional)
        if not broken:
            continue
        if found and found[-1].end == start and found[-1].counts == counts:
            last = found.pop()
            found.append(Exceedance(on, last.start, end, counts, broken, exceptional))
        else:
            found.append(Exceedance(on, start, end, counts, broken, exceptional))
    return found


def week_exceedances(week_start: dt.date, cared: list[CaredChild], own: list[OwnChild], limits: Limits,
                     exceptional_days: frozenset[dt.date] = frozenset()) -> list[Exceedance]:
    """Every moment of the 7 days from `week_start` that breaks a rule; a day in `exceptional_days` is judged
    against the exceptional limits."""
    found = []
    for offset in range(7):
        on = week_start + dt.timedelta(days=offset)
        found.extend(day_exceedances(on, cared, own, limits, on in exceptional_days))
    return found


def peak_under_11(on: dt.date, cared: list[CaredChild], own: list[OwnChild]) -> int:
    """The highest number of minors under 11 present together that day (D421-17 asks it for each exceptional day)."""
    best = 0
    for start in _boundaries(cared, on.weekday())[:-1]:
        present = [c for c in cared if c.present(on, start)]
        if present:
            best = max(best, count(present, own, on).minors_under_11)
    return best


# --- R421-39: declarations within 8 days ---------------------------------------------------------------------

def declaration_deadline(effective: dt.date) -> dt.date:
    return effective + dt.timedelta(days=DECLARATION_DAYS)


def is_late(effective: dt.date, declared_on: dt.date) -> bool:
    """R421-39: declared more than 8 days after the arrival, the change or the departure."""
    return declared_on > declaration_deadline(effective)


# --- D421-17: exceptional over-capacity ---------------------------------------------------------------------

@dataclass(frozen=True)
class ExceptionPeriod:
    start: dt.date
    end: dt.date

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class ExceptionCheck:
    errors: dict[str, str] = field(default_factory=dict)
    late: bool = False
    days_used_by_year: dict[int, int] = field(default_factory=dict)


def check_exception(period: ExceptionPeriod, earlier: list[ExceptionPeriod], declared_at: dt.datetime,
                    reason: str) -> ExceptionCheck:
    """A new exceptional period against D421-17: a reason, end not before start, at most 55 days per calendar
    year counting the periods declared before (a day declared twice counts once). Told more than 48 hours after its
    first day, it is accepted but flagged late (the PMI must still know of it)."""
    result = ExceptionCheck()
    if not reason.strip():
        result.errors["reason"] = "Indiquez le motif de l'accueil en surnombre (vacances scolaires, besoin imprévu…)."
    if period.end < period.start:
        result.errors["end_date"] = "La date de fin précède la date de début."
        return result
    days = set(period.days())
    for other in earlier:
        days.update(other.days())
    for year in sorted({d.year for d in period.days()}):
        used = sum(1 for d in days if d.year == year)
        result.days_used_by_year[year] = used
        if used > EXCEPTION_DAYS_PER_YEAR:
            result.errors["end_date"] = (
                f"L'accueil en surnombre est limité à {EXCEPTION_DAYS_PER_YEAR} jours par année civile (article "
                f"D421-17) : cette déclaration porterait {year} à {used} jours.")
    first_moment = dt.datetime.combine(period.start, dt.time(0, 0), tzinfo=DEPARTEMENT_TIME)
    result.late = declared_at - first_moment > EXCEPTION_NOTICE
    return result


def day_timeline(on: dt.date, cared: list[CaredChild], own: list[OwnChild], limits: Limits,
                 exceptional: bool = False) -> list[tuple[int, int, Counts, tuple[Breach, ...]]]:
    """Every interval of that day when children under contract are present: (start, end, counts, breaches)."""
    timeline = []
    points = _boundaries(cared, on.weekday())
    for start, end in zip(points, points[1:]):
        present = [c for c in cared if c.present(on, start)]
        if present:
            counts = count(present, own, on)
            timeline.append((start, end, counts, breaches(counts, limits, exceptional)))
    return timeline
