"""PMI staff: `/espace-pmi/securite`, what identity's defences see (failures, locks, spikes of failures), from
`GET /api/security/summary`. Staff log in through their own page (part of the staff accounts); this page only
requires a staff role in the session's account."""
from __future__ import annotations

from flask import Blueprint, render_template

from gateway import browser
from gateway.bootstrap import current
from gateway.errors import error_page

bp = Blueprint("security", __name__, url_prefix="/espace-pmi")

STAFF_ROLES = frozenset({"support", "admin", "pmi_central"})
ACTION_LABELS = {
    "activation_check": "Activation, étape 1 (numéro et date de naissance)",
    "activation_complete": "Activation, étape 2 (adresse et mot de passe)",
    "activation_confirm": "Lien de confirmation",
    "login": "Connexion",
    "staff_login": "Connexion du personnel",
    "resend": "Renvoi du courriel",
    "reset": "Mot de passe oublié",
    "mail": "Envoi de courriels",
    "captcha": "Images de vérification",
}


def account_roles(account: dict) -> set[str]:
    roles = account.get("roles")
    if isinstance(roles, str):
        roles = [part.strip() for part in roles.split(",")]
    return set(roles or []) | {account.get("role")}


def may_open(account: dict | None) -> bool:
    """Whether this session's account opens the page (the staff home shows its link by the same rule)."""
    return bool(account) and bool(account_roles(account) & STAFF_ROLES)


@bp.get("/securite")
@browser.login_required
def security():
    if not may_open(browser.current_account()):
        return error_page(403, message="Cette page est réservée au personnel de la PMI (support, administration, "
                                       "PMI centrale).")
    summary = current().clients.identity.security_summary(browser.access_token())
    return render_template("pmi/security.html", summary=summary, labels=ACTION_LABELS)
