"""The assmat's contracts (`/api/contracts…`) and the staff's view of the declarations (`/api/pmi/…`)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from agrement.contracts import commands, queries
from agrement.contracts.domain import Invalid
from services.auth import require_token
from services.web import ApiError, json_body

bp = Blueprint("contracts", __name__, url_prefix="/api")
STAFF_ROLES = ("pmi_agent", "pmi_central")   # as the back office (agrement.backoffice.scope, reports branch)
ALL_CIRCONSCRIPTIONS_ROLES = ("pmi_central",)


def _container():
    return current_app.extensions["agrement"]


def _verifier():
    return _container().verifier


def pmi_number() -> str:
    value = g.principal.claims.get("pmi_number")
    if not value:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    return str(value)


def refused(error: Invalid) -> ApiError:
    return ApiError(400, "invalid_fields", "Certains champs sont à corriger.", {"fields": error.errors})


def over_capacity(error: commands.OverCapacity) -> ApiError:
    from agrement.capacity.queries import as_json
    return ApiError(409, "over_capacity",
                    "Cette déclaration dépasse la capacité d'accueil (article L421-4 du CASF). Vérifiez les "
                    "horaires, ou confirmez : la PMI de votre circonscription en sera informée.",
                    {"exceedances": [as_json(e) for e in error.exceedances[:20]],
                     "count": len(error.exceedances)})


def declared_json(declared: commands.Declared) -> dict:
    return {"contract_id": declared.contract_id, "declaration_id": declared.declaration_id, "late": declared.late,
            "deadline": declared.deadline.isoformat(), "over_capacity": declared.over_capacity,
            "exceedances": declared.exceedances}


def _confirm(payload: dict) -> bool:
    return payload.get("confirm_over_capacity") is True


def _declare(action):
    try:
        return action()
    except Invalid as error:
        raise refused(error) from None
    except commands.OverCapacity as error:
        raise over_capacity(error) from None
    except commands.Conflict as error:
        raise ApiError(409, error.code, error.message) from None
    except commands.NotFound:
        raise ApiError(404, "not_found", "Contrat ou agrément introuvable.") from None


@bp.get("/contracts")
@require_token(_verifier, roles=("assmat",))
def list_contracts():
    with _container().session_factory() as session:
        return jsonify({"contracts": queries.list_contracts(session, pmi_number())})


@bp.get("/contracts/<contract_id>")
@require_token(_verifier, roles=("assmat",))
def one_contract(contract_id):
    with _container().session_factory() as session:
        found = queries.one_contract(session, pmi_number(), contract_id)
    if found is None:
        raise ApiError(404, "not_found", "Contrat introuvable.")
    return jsonify(found)


@bp.post("/contracts")
@require_token(_verifier, roles=("assmat",))
def declare_arrival():
    payload = json_body()
    declared = _declare(lambda: commands.declare_arrival(_container().session_factory, pmi_number(), payload,
                                                         confirm_over_capacity=_confirm(payload)))
    return jsonify(declared_json(declared)), 201


def _check(action):
    """The capacity engine's verdict on a declaration, saving nothing: what a page shows beside its warning."""
    from agrement.capacity.queries import as_json
    try:
        action()
    except Invalid as error:
        raise refused(error) from None
    except commands.NotFound:
        raise ApiError(404, "not_found", "Contrat ou agrément introuvable.") from None
    except commands.Conflict as error:
        raise ApiError(409, error.code, error.message) from None
    except commands.OverCapacity as error:
        return jsonify({"over_capacity": bool(error.exceedances), "count": len(error.exceedances),
                        "exceedances": [as_json(e) for e in error.exceedances[:20]]})
    raise AssertionError("a dry run always answers OverCapacity")


@bp.post("/contracts/check")
@require_token(_verifier, roles=("assmat",))
def check_arrival():
    payload = json_body()
    return _check(lambda: commands.declare_arrival(_container().session_factory, pmi_number(), payload,
                                                   dry_run=True))


@bp.post("/contracts/<contract_id>/changes/check")
@require_token(_verifier, roles=("assmat",))
def check_change(contract_id):
    payload = json_body()
    return _check(lambda: commands.declare_change(_container().session_factory, pmi_number(), contract_id, payload,
                                                  dry_run=True))


@bp.post("/contracts/<contract_id>/changes")
@require_token(_verifier, roles=("assmat",))
def declare_change(contract_id):
    payload = json_body()
    declared = _declare(lambda: commands.declare_change(_container().session_factory, pmi_number(), contract_id,
                                                        payload, confirm_over_capacity=_confirm(payload)))
    return jsonify(declared_json(declared)), 201


@bp.post("/contracts/<contract_id>/departure")
@require_token(_verifier, roles=("assmat",))
def declare_departure(contract_id):
    payload = json_body()
    declared = _declare(lambda: commands.declare_departure(_container().session_factory, pmi_number(), contract_id,
                                                           payload))
    return jsonify(declared_json(declared)), 201


def staff_scope() -> tuple[str, ...] | None:
    """None: every circonscription (central staff); else the token's (an agent with none sees nothing)."""
    if any(role in g.principal.roles for role in ALL_CIRCONSCRIPTIONS_ROLES):
        return None
    return g.principal.circonscriptions


@bp.get("/backoffice/contract-declarations")
@require_token(_verifier, roles=STAFF_ROLES)
def staff_declarations():
    from flask import request
    flagged = request.args.get("flagged") in ("1", "true")
    with _container().session_factory() as session:
        return jsonify({"declarations": queries.declarations_for_staff(session, staff_scope(),
                                                                       flagged_only=flagged)})


@bp.get("/backoffice/over-capacity")
@require_token(_verifier, roles=STAFF_ROLES)
def staff_over_capacity():
    with _container().session_factory() as session:
        return jsonify({"over_capacity": queries.over_capacity_for_staff(session, staff_scope())})
