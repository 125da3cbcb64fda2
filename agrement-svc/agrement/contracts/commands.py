"""Write side of the contracts: declare an arrival, a change, a departure (R421-39), each checked against the
capacity engine before it is saved; erase children's data a set time after departure."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from agrement.adapters.orm import contract_declarations, contracts
from agrement.capacity import domain as capacity
from agrement.capacity.queries import as_json, exceedances, situation
from agrement.contracts.domain import (
    Invalid, check_birth_date, parse_date, parse_first_name, parse_representatives, parse_schedule, periods_overlap,
    slots_of)
from services.catalogue.agrement import CAPACITY_EXCEEDED, CONTRACT_DECLARED
from services.db import UnitOfWork

log = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
# An agrément in these statuses allows no new child (DOMAIN.md: suspension and withdrawal end the practice); a
# change or a departure is still declared, so that the PMI knows who leaves.
ENDED_STATUSES = frozenset({"suspended", "withdrawn"})   # the 8 days of R421-39 are the département's calendar days


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(PARIS).date()


class NotFound(Exception):
    pass


class Conflict(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class OverCapacity(Exception):
    """The declaration would break L421-4: nothing saved; the assmat may confirm (the PMI is then told)."""

    def __init__(self, found: list[capacity.Exceedance]):
        super().__init__(f"{len(found)} exceedance(s)")
        self.exceedances = found


@dataclass
class Declared:
    contract_id: str
    declaration_id: str
    late: bool
    deadline: dt.date
    over_capacity: bool
    exceedances: list[dict]


def _new_id() -> str:
    return uuid.uuid4().hex


def _record(uow, contract_row: dict, kind: str, effective: dt.date, at: dt.datetime,
            found: list[capacity.Exceedance]) -> Declared:
    """The declaration row and its events, in the transaction of the contract's change (outbox)."""
    declaration_id = _new_id()
    late = capacity.is_late(effective, local_day(at))
    listed = [as_json(e) for e in found]
    uow.session.execute(contract_declarations.insert().values(
        id=declaration_id, contract_id=contract_row["id"], pmi_number=contract_row["pmi_number"],
        circonscription=contract_row["circonscription"], kind=kind, effective_date=effective, declared_at=at,
        late=late, over_capacity=bool(found), exceedances=listed or None))
    common = {"pmi_number": contract_row["pmi_number"], "circonscription": contract_row["circonscription"],
              "contract_id": contract_row["id"], "declaration_id": declaration_id}
    uow.add_event(CONTRACT_DECLARED.build(contract_row["pmi_number"], {
        **common, "kind": kind, "effective_date": effective.isoformat(), "declared_at": at.isoformat(),
        "late": late, "over_capacity": bool(found)}))
    if found:
        uow.add_event(CAPACITY_EXCEEDED.build(contract_row["pmi_number"], {
            **common, "exceedances": [{k: e[k] for k in ("date", "start", "end", "rules", "exceptional")}
                                      for e in listed]}))
    return Declared(contract_row["id"], declaration_id, late, capacity.declaration_deadline(effective), bool(found),
                    listed)


def _check_capacity(found, cared: list[capacity.CaredChild], from_date: dt.date, confirm: bool,
                    dry_run: bool = False):
    breaking = exceedances(found, cared, from_date)
    if breaking and (dry_run or not confirm):
        raise OverCapacity(breaking)
    if dry_run:
        raise OverCapacity([])     # nothing breaks; the caller only wanted to know
    return breaking


def declare_arrival(session_factory: sessionmaker, pmi_number: str, payload: dict, at: dt.datetime | None = None,
                    confirm_over_capacity: bool = False, dry_run: bool = False) -> Declared:
    """R421-39: a child's arrival: first name, birth date, start, weekly days and hours, legal representatives.
    `dry_run`: check only, saving nothing; the answer is OverCapacity with what breaks (maybe nothing)."""
    at = at or now()
    today = local_day(at)
    errors: dict[str, str] = {}
    first_name = parse_first_name(payload.get("child_first_name"), "child_first_name", errors)
    birth = parse_date(payload.get("child_birth_date"), "child_birth_date", errors, "la date de naissance")
    check_birth_date(birth, "child_birth_date", errors, today)
    start = parse_date(payload.get("start_date"), "start_date", errors, "la date d'arrivée")
    if start and birth and "child_birth_date" not in errors and start < birth:
        errors["start_date"] = "L'arrivée ne peut précéder la naissance de l'enfant."
    if start and start > today + dt.timedelta(days=366):
        errors["start_date"] = "L'arrivée doit être dans l'année qui vient."
    schedule = parse_schedule(payload.get("schedule"), errors)
    representatives = parse_representatives(payload.get("representatives"), errors)
    if errors:
        raise Invalid(errors)
    with UnitOfWork(session_factory) as uow:
        found = situation(uow.session, pmi_number)
        if found is None:
            raise NotFound(pmi_number)
        if found.status in ENDED_STATUSES:
            raise Conflict("agrement_inactive", "Votre agrément est suspendu ou retiré : vous ne pouvez pas accueillir "
                                                "de nouvel enfant. Contactez votre circonscription de PMI.")
        if found.validity_end is not None and start > found.validity_end:
            raise Invalid({"start_date": f"Votre agrément est valable jusqu'au {found.validity_end:%d/%m/%Y} : "
                                         "l'arrivée ne peut être après."})
        same_child = uow.session.execute(sa.select(contracts.c.start_date, contracts.c.end_date).where(
            contracts.c.pmi_number == pmi_number, contracts.c.erased_at.is_(None),
            contracts.c.child_birth_date == birth,
            sa.func.lower(contracts.c.child_first_name) == first_name.lower())).all()
        if any(periods_overlap(start, None, other.start_date, other.end_date) for other in same_child):
            raise Invalid({"start_date": "Un contrat est déjà déclaré pour cet enfant sur cette période : déclarez "
                                         "un changement ou son départ plutôt qu'une nouvelle arrivée."})
        contract_id = _new_id()
        child = capacity.CaredChild(contract_id, birth, start, None, slots_of(schedule))
        breaking = _check_capacity(found, found.cared + [child], start, confirm_over_capacity, dry_run)
        row = {"id": contract_id, "pmi_number": pmi_number, "circonscription": found.circonscription,
               "child_first_name": first_name, "child_birth_date": birth, "start_date": start, "end_date": None,
               "schedule": schedule, "representatives": representatives,
               "late": capacity.is_late(start, today), "over_capacity": bool(breaking), "declared_at": at,
               "updated_at": at}
        uow.session.execute(contracts.insert().values(**row))
        declared = _record(uow, row, "arrival", start, at, breaking)
        uow.commit()
    return declared


def _own_contract(session, pmi_number: str, contract_id: str) -> dict:
    row = session.execute(sa.select(contracts).where(contracts.c.id == contract_id,
                                                     contracts.c.pmi_number == pmi_number,
                                                     contracts.c.erased_at.is_(None))).mappings().first()
    if row is None:
        raise NotFound(contract_id)   # another assmat's contract is as unknown as a missing one
    return dict(row)


def declare_change(session_factory: sessionmaker, pmi_number: str, contract_id: str, payload: dict,
                   at: dt.datetime | None = None, confirm_over_capacity: bool = False,
                   dry_run: bool = False) -> Declared:
    """R421-39: a change of the arrangements (days and hours) or of the representatives' contacts, from a date.
    The contract keeps its newest arrangements only; each declaration stays in `contract_declarations`."""
    at = at or now()
    errors: dict[str, str] = {}
    effective = parse_date(payload.get("effective_date"), "effective_date", errors, "la date du changement")
    schedule = parse_schedule(payload["schedule"], errors) if "schedule" in payload else None
    representatives = (parse_representatives(payload["representatives"], errors)
                       if "representatives" in payload else None)
    if not errors and schedule is None and representatives is None:
        errors["schedule"] = "Indiquez ce qui change : les jours et horaires ou les représentants légaux."
    if errors:
        raise Invalid(errors)
    with UnitOfWork(session_factory) as uow:
        row = _own_contract(uow.session, pmi_number, contract_id)
        if effective < row["start_date"]:
            raise Invalid({"effective_date": "Le changement ne peut précéder l'arrivée de l'enfant "
                                             f"({row['start_date']:%d/%m/%Y})."})
        if row["end_date"] is not None and effective > row["end_date"]:
            raise Invalid({"effective_date": "Le changement ne peut suivre le départ de l'enfant."})
        found = situation(uow.session, pmi_number)
        breaking = []
        if schedule is not None:
            others = [c for c in found.cared if c.key != contract_id]
            changed = capacity.CaredChild(contract_id, row["child_birth_date"], row["start_date"], row["end_date"],
                                          slots_of(schedule))
            breaking = _check_capacity(found, others + [changed], effective, confirm_over_capacity, dry_run)
            row["schedule"] = schedule
        elif dry_run:
            raise OverCapacity([])
        if representatives is not None:
            row["representatives"] = representatives
        late = capacity.is_late(effective, local_day(at))
        row.update(late=row["late"] or late, over_capacity=row["over_capacity"] or bool(breaking), updated_at=at)
        uow.session.execute(contracts.update().where(contracts.c.id == contract_id).values(
            schedule=row["schedule"], representatives=row["representatives"], late=row["late"],
            over_capacity=row["over_capacity"], updated_at=at))
        declared = _record(uow, row, "change", effective, at, breaking)
        uow.commit()
    return declared


def declare_departure(session_factory: sessionmaker, pmi_number: str, contract_id: str, payload: dict,
                      at: dt.datetime | None = None) -> Declared:
    """R421-39: the child's final departure."""
    at = at or now()
    errors: dict[str, str] = {}
    end = parse_date(payload.get("end_date"), "end_date", errors, "la date de départ")
    if errors:
        raise Invalid(errors)
    with UnitOfWork(session_factory) as uow:
        row = _own_contract(uow.session, pmi_number, contract_id)
        if row["end_date"] is not None:
            raise Conflict("already_departed", f"Le départ de cet enfant est déjà déclaré au "
                                               f"{row['end_date']:%d/%m/%Y}.")
        if end < row["start_date"]:
            raise Invalid({"end_date": f"Le départ ne peut précéder l'arrivée ({row['start_date']:%d/%m/%Y})."})
        if end > local_day(at) + dt.timedelta(days=366):
            raise Invalid({"end_date": "Le départ doit être dans l'année qui vient."})
        late = capacity.is_late(end, local_day(at))
        row.update(end_date=end, late=row["late"] or late, updated_at=at)
        uow.session.execute(contracts.update().where(contracts.c.id == contract_id).values(
            end_date=end, late=row["late"], updated_at=at))
        declared = _record(uow, row, "departure", end, at, [])
        uow.commit()
    return declared


def erase_departed_children(session_factory: sessionmaker, on: dt.date, retention_days: int,
                            at: dt.datetime | None = None) -> int:
    """Erase the child's first name, birth date, schedule and representatives `retention_days` after the departure
    (the contract's dates and its declarations stay, without a name: what the PMI keeps of its follow-up)."""
    limit = on - dt.timedelta(days=retention_days)
    with UnitOfWork(session_factory) as uow:
        result = uow.session.execute(contracts.update().where(
            contracts.c.end_date < limit, contracts.c.erased_at.is_(None)).values(
            child_first_name=None, child_birth_date=None, schedule=None, representatives=None,
            erased_at=at or now()))
        uow.commit()
    return result.rowcount or 0


def erasure_job(container, stop: threading.Event) -> None:
    """A background task of the worker (service.py), every AGREMENT_CHILD_DATA_SWEEP_SECONDS."""
    settings = container.settings
    if settings.child_data_sweep_seconds <= 0:
        return
    while True:   # a sweep as the worker starts, then one each period until the worker stops
        try:
            erased = erase_departed_children(container.session_factory, local_day(now()),
                                             settings.child_data_retention_days)
            if erased:
                log.info("children's data erased", extra={"contracts": erased})
        except Exception:
            log.exception("children's data erasure failed, will retry")
        if stop.wait(settings.child_data_sweep_seconds):
            return
