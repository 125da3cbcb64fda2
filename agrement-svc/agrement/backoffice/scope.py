"""Scoping by circonscription: an agent sees and acts on the agréments and reports of her circonscriptions only;
the central PMI sees them all. The token says which (identity signs `roles` and `circonscriptions`)."""
from __future__ import annotations

from services.auth import Principal
from services.web import ApiError

# Who works in the back office on agréments and reports (support and admin do not: they run the platform).
BACKOFFICE_ROLES = ("pmi_agent", "pmi_central")


def circonscriptions_of(principal: Principal) -> tuple[str, ...] | None:
    """The circonscriptions the principal may see; None means all of them."""
    if "pmi_central" in principal.roles:
        return None
    return principal.circonscriptions


def may_see(principal: Principal, circonscription: str) -> bool:
    scope = circonscriptions_of(principal)
    return scope is None or circonscription in scope


def require_scope(principal: Principal, circonscription: str | None) -> None:
    """404 rather than 403 outside the scope: an agent does not learn what exists in another circonscription."""
    if circonscription is None or not may_see(principal, circonscription):
        raise ApiError(404, "not_found", "Dossier introuvable dans votre circonscription.")


def actor_of(principal: Principal) -> str:
    return str(principal.claims.get("name") or principal.claims.get("email") or principal.subject)[:200]
