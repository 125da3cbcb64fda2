"""Read side: an assmat's contracts, and the declarations the back office lists by circonscription."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from agrement.adapters.orm import agrements, contract_declarations, contracts, over_capacity_declarations
from agrement.capacity.domain import declaration_deadline


def _iso(value):
    return value.isoformat() if value is not None else None


def _contract(row, declarations) -> dict:
    return {"id": row["id"], "child_first_name": row["child_first_name"],
            "child_birth_date": _iso(row["child_birth_date"]), "start_date": _iso(row["start_date"]),
            "end_date": _iso(row["end_date"]), "schedule": row["schedule"] or [],
            "representatives": row["representatives"] or [], "late": row["late"],
            "over_capacity": row["over_capacity"], "declared_at": _iso(row["declared_at"]),
            # R421-39: shown beside the arrival so she knows by when it had to be declared
            "arrival_deadline": _iso(declaration_deadline(row["start_date"])),
            "declarations": declarations}


def _declaration(row) -> dict:
    return {"id": row["id"], "contract_id": row["contract_id"], "kind": row["kind"],
            "effective_date": _iso(row["effective_date"]), "declared_at": _iso(row["declared_at"]),
            "deadline": _iso(declaration_deadline(row["effective_date"])), "late": row["late"],
            "over_capacity": row["over_capacity"], "exceedances": row["exceedances"] or []}


def list_contracts(session: Session, pmi_number: str) -> list[dict]:
    rows = session.execute(sa.select(contracts).where(contracts.c.pmi_number == pmi_number,
                                                      contracts.c.erased_at.is_(None))
                           .order_by(contracts.c.end_date.is_not(None), contracts.c.start_date)).mappings().all()
    by_contract: dict[str, list] = {}
    for row in session.execute(sa.select(contract_declarations)
                               .where(contract_declarations.c.pmi_number == pmi_number)
                               .order_by(contract_declarations.c.declared_at)).mappings():
        by_contract.setdefault(row["contract_id"], []).append(_declaration(row))
    return [_contract(row, by_contract.get(row["id"], [])) for row in rows]


def one_contract(session: Session, pmi_number: str, contract_id: str) -> dict | None:
    return next((c for c in list_contracts(session, pmi_number) if c["id"] == contract_id), None)


def list_over_capacity(session: Session, pmi_number: str) -> list[dict]:
    rows = session.execute(sa.select(over_capacity_declarations)
                           .where(over_capacity_declarations.c.pmi_number == pmi_number)
                           .order_by(over_capacity_declarations.c.start_date.desc())).mappings()
    return [{"id": r["id"], "reason": r["reason"], "start_date": _iso(r["start_date"]),
             "end_date": _iso(r["end_date"]), "day_totals": r["day_totals"], "declared_at": _iso(r["declared_at"]),
             "late": r["late"]} for r in rows]


def declarations_for_staff(session: Session, circonscriptions: tuple[str, ...] | None, *,
                           flagged_only: bool = False, limit: int = 200) -> list[dict]:
    """The declarations of contracts for the back office, newest first; `circonscriptions` None: every one
    (central staff); `flagged_only`: late (R421-39) or over capacity (L421-4)."""
    query = (sa.select(contract_declarations, contracts.c.child_first_name, agrements.c.first_name,
                       agrements.c.last_name)
             .join(contracts, contracts.c.id == contract_declarations.c.contract_id)
             .join(agrements, agrements.c.pmi_number == contract_declarations.c.pmi_number)
             .order_by(contract_declarations.c.declared_at.desc()).limit(limit))
    if circonscriptions is not None:
        query = query.where(contract_declarations.c.circonscription.in_(circonscriptions))
    if flagged_only:
        query = query.where(sa.or_(contract_declarations.c.late, contract_declarations.c.over_capacity))
    return [{**_declaration(r), "pmi_number": r["pmi_number"], "circonscription": r["circonscription"],
             "assmat_name": f"{r['first_name']} {r['last_name']}", "child_first_name": r["child_first_name"]}
            for r in session.execute(query).mappings()]


def over_capacity_for_staff(session: Session, circonscriptions: tuple[str, ...] | None, limit: int = 200) -> list:
    query = (sa.select(over_capacity_declarations, agrements.c.first_name, agrements.c.last_name)
             .join(agrements, agrements.c.pmi_number == over_capacity_declarations.c.pmi_number)
             .order_by(over_capacity_declarations.c.declared_at.desc()).limit(limit))
    if circonscriptions is not None:
        query = query.where(over_capacity_declarations.c.circonscription.in_(circonscriptions))
    return [{"id": r["id"], "pmi_number": r["pmi_number"], "circonscription": r["circonscription"],
             "assmat_name": f"{r['first_name']} {r['last_name']}", "reason": r["reason"],
             "start_date": _iso(r["start_date"]), "end_date": _iso(r["end_date"]), "day_totals": r["day_totals"],
             "declared_at": _iso(r["declared_at"]), "late": r["late"]}
            for r in session.execute(query).mappings()]


_KIND_FR = {"arrival": "arrivée", "change": "modification", "departure": "départ"}


def flagged_for_backoffice(session: Session, circonscriptions: tuple[str, ...] | None) -> list[dict]:
    """The back office's source of flagged declarations (agrement.backoffice.declarations): late or over-capacity
    declarations of contracts, and every exceptional over-capacity (L421-4 III), as rows of that list."""
    rows = []
    for declaration in declarations_for_staff(session, circonscriptions, flagged_only=True):
        first_name, _, last_name = declaration["assmat_name"].partition(" ")
        kind = "over_capacity" if declaration["over_capacity"] else "late"
        summary = (f"Déclaration d'{_KIND_FR.get(declaration['kind'], declaration['kind'])} du "
                   f"{declaration['effective_date']}, faite le {declaration['declared_at'][:10]}"
                   + (" (plus de 8 jours après)" if declaration["late"] else "")
                   + (", capacité dépassée" if declaration["over_capacity"] else ""))
        rows.append({"kind": kind, "pmi_number": declaration["pmi_number"], "first_name": first_name,
                     "last_name": last_name, "circonscription": declaration["circonscription"],
                     "at": declaration["declared_at"], "summary": summary})
    for declaration in over_capacity_for_staff(session, circonscriptions):
        first_name, _, last_name = declaration["assmat_name"].partition(" ")
        rows.append({"kind": "exceptional_over_capacity", "pmi_number": declaration["pmi_number"],
                     "first_name": first_name, "last_name": last_name,
                     "circonscription": declaration["circonscription"], "at": declaration["declared_at"],
                     "summary": f"Du {declaration['start_date']} au {declaration['end_date']} : "
                                f"{declaration['reason']}" + (" (dit plus de 48 heures après)"
                                                              if declaration["late"] else "")})
    return rows
