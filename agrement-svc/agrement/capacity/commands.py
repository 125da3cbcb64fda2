"""Exceptional over-capacity (L421-4 III), told to the PMI within 48 hours with each day's total of under-11s
(D421-17), at most 55 days a calendar year."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import sessionmaker

from agrement.adapters.orm import over_capacity_declarations
from agrement.capacity import domain
from agrement.capacity.queries import situation
from agrement.contracts.commands import NotFound, local_day, now
from agrement.contracts.domain import Invalid, parse_date
from services.catalogue.agrement import OVER_CAPACITY_DECLARED
from services.db import UnitOfWork

MAX_UNDER_11_TOLD = 20


def declare_over_capacity(session_factory: sessionmaker, pmi_number: str, payload: dict,
                          at: dt.datetime | None = None, dry_run: bool = False) -> dict:
    """`dry_run`: check and compute each day's total, saving nothing (the page then asks her to confirm them)."""
    at = at or now()
    errors: dict[str, str] = {}
    reason = " ".join(str(payload.get("reason") or "").split())
    start = parse_date(payload.get("start_date"), "start_date", errors, "le premier jour")
    end = parse_date(payload.get("end_date"), "end_date", errors, "le dernier jour")
    if len(reason) > 2000:
        errors["reason"] = "Le motif doit faire au plus 2000 caractères."
    if start and start > local_day(at) + dt.timedelta(days=366):
        errors["start_date"] = "Le premier jour doit être dans l'année qui vient."
    told = payload.get("day_totals") or {}
    if not isinstance(told, dict):
        errors["day_totals"] = "Les totaux par jour sont invalides."
        told = {}
    if start and end and (end - start).days > 366:
        errors["end_date"] = ("L'accueil en surnombre est limité à 55 jours par année civile (article D421-17) : "
                              "la période est bien trop longue.")
    if errors.get("start_date") or errors.get("end_date"):
        raise Invalid(errors)
    with UnitOfWork(session_factory) as uow:
        found = situation(uow.session, pmi_number)
        if found is None:
            raise NotFound(pmi_number)
        check = domain.check_exception(domain.ExceptionPeriod(start, end), found.exception_periods, at, reason)
        errors.update(check.errors)
        if errors:
            raise Invalid(errors)
        period = domain.ExceptionPeriod(start, end)
        # D421-17 asks the total of under-11s each day: she may tell it; otherwise the contracts' peak stands.
        totals = {}
        for day in period.days():
            value = told.get(day.isoformat())
            if value in (None, ""):
                totals[day.isoformat()] = domain.peak_under_11(day, found.cared, found.own)
            elif isinstance(value, bool) or not str(value).isdigit() or int(value) > MAX_UNDER_11_TOLD:
                raise Invalid({"day_totals": f"Le total du {day:%d/%m/%Y} doit être un nombre entre 0 et "
                                             f"{MAX_UNDER_11_TOLD}."})
            else:
                totals[day.isoformat()] = int(value)
        unknown = set(told) - set(totals)
        if unknown:
            raise Invalid({"day_totals": "Des totaux portent sur des jours hors de la période."})
        if dry_run:
            return {"id": None, "late": check.late, "day_totals": totals, "days_used": check.days_used_by_year}
        declaration_id = uuid.uuid4().hex
        uow.session.execute(over_capacity_declarations.insert().values(
            id=declaration_id, pmi_number=pmi_number, circonscription=found.circonscription, reason=reason,
            start_date=start, end_date=end, day_totals=totals, declared_at=at, late=check.late))
        uow.add_event(OVER_CAPACITY_DECLARED.build(pmi_number, {
            "declaration_id": declaration_id, "pmi_number": pmi_number, "circonscription": found.circonscription,
            "start_date": start.isoformat(), "end_date": end.isoformat(), "reason": reason, "day_totals": totals,
            "late": check.late}))
        uow.commit()
    return {"id": declaration_id, "late": check.late, "day_totals": totals,
            "days_used": check.days_used_by_year}
