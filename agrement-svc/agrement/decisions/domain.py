"""Which decision staff may take on an agrément in which status, and what it changes. Pure: no framework.

Grants come from the PMI extract (agrement-svc/EXTRACT_FORMAT.md); the back office acts on known agréments.
"""
from __future__ import annotations

import datetime as dt

ACTIVE, TEMPORARY_STOP, SUSPENDED, WITHDRAWN = "active", "temporary_stop", "suspended", "withdrawn"

# action → (statuses it applies to, status after; None keeps the status)
ACTIONS = {
    "modify": ({ACTIVE, TEMPORARY_STOP, SUSPENDED}, None),
    "suspend": ({ACTIVE, TEMPORARY_STOP}, SUSPENDED),
    "withdraw": ({ACTIVE, TEMPORARY_STOP, SUSPENDED}, WITHDRAWN),
    "temporary_stop": ({ACTIVE}, TEMPORARY_STOP),
    "resume": ({TEMPORARY_STOP, SUSPENDED}, ACTIVE),
    # D421-15: the assmat may oppose publication; PMI staff record her choice (the L421-8 lists keep her).
    "publication": ({ACTIVE, TEMPORARY_STOP, SUSPENDED}, None),
}
ACTION_LABELS = {"modify": "Modification", "suspend": "Suspension", "withdraw": "Retrait",
                 "temporary_stop": "Arrêt temporaire", "resume": "Reprise d'activité",
                 "publication": "Choix de publication", "extract": "Mise à jour par la PMI"}
# Her choice about the public site: published; off the site; on the site without any contact details.
PUBLICATION_CHOICES = {"published": (False, False), "opposed": (True, False), "no_contact": (False, True)}

# Suspension and withdrawal are decisions the assmat may contest: they always state their reason.
REASON_REQUIRED = {"suspend", "withdraw"}
MODIFIABLE = ("capacity_total", "capacity_under_3", "validity_end")
REASON_MAX = 2000


class DecisionRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def decide(current: dict, action: str, body: dict) -> tuple[dict, str | None]:
    """The new values of the changed columns (as stored) and the reason, or DecisionRefused (French, by field)."""
    if action not in ACTIONS:
        raise DecisionRefused({"action": "Décision inconnue."})
    allowed, status_after = ACTIONS[action]
    if current["status"] not in allowed:
        raise DecisionRefused({"action": f"{ACTION_LABELS[action]} impossible : l'agrément est "
                                         f"{_status_fr(current['status'])}."})
    errors: dict[str, str] = {}
    reason = body.get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > REASON_MAX:
        errors["reason"] = f"Le motif ne doit pas dépasser {REASON_MAX} caractères."
    elif action in REASON_REQUIRED and not reason:
        errors["reason"] = "Indiquez le motif de la décision : il est communiqué à l'assistant·e maternel·le."
    changes: dict = {}
    if status_after is not None:
        changes["status"] = status_after
    if action == "publication":
        choice = body.get("publication")
        if choice not in PUBLICATION_CHOICES:
            errors["publication"] = "Choisissez : publiée, retirée du site, ou publiée sans coordonnées."
        else:
            opposed, hidden = PUBLICATION_CHOICES[choice]
            if opposed != current["publication_opposed"]:
                changes["publication_opposed"] = opposed
            if hidden != bool(current["publication_contact_hidden"]):
                changes["publication_contact_hidden"] = hidden
            if not changes:
                errors["publication"] = "C'est déjà le choix enregistré."
    if action == "modify":
        changes.update(_modifications(current, body, errors))
        if not errors and not changes:
            errors["action"] = "Aucune modification : les valeurs saisies sont celles de l'agrément."
    if errors:
        raise DecisionRefused(errors)
    return changes, reason or None


def _modifications(current: dict, body: dict, errors: dict) -> dict:
    changes = {}
    total, under_3 = current["capacity_total"], current["capacity_under_3"]
    for name in ("capacity_total", "capacity_under_3"):
        raw = body.get(name)
        if raw in (None, ""):
            continue
        try:
            value = int(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        # L421-4: at most 4 children at the same time on an agrément (6 minors including own children).
        if value is None or not 0 <= value <= 4 or (name == "capacity_total" and value < 1):
            errors[name] = "Le nombre de places est un entier de 1 à 4 (article L421-4 du CASF)." \
                if name == "capacity_total" else "Le nombre de places de moins de 3 ans est un entier de 0 à 4."
            continue
        if name == "capacity_total":
            total = value
        else:
            under_3 = value
        if value != current[name]:
            changes[name] = value
    if "capacity_total" not in errors and "capacity_under_3" not in errors and under_3 > total:
        errors["capacity_under_3"] = "Les places de moins de 3 ans ne peuvent dépasser le nombre de places."
    raw = body.get("validity_end")
    if raw not in (None, ""):
        try:
            end = dt.date.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            end = None
        if end is None:
            errors["validity_end"] = "La date de fin de validité n'est pas valide (jj/mm/aaaa)."
        elif end <= current["validity_start"]:
            errors["validity_end"] = "La fin de validité doit suivre le début de validité."
        elif end != current["validity_end"]:
            changes["validity_end"] = end
    return changes


def _status_fr(status: str) -> str:
    return {ACTIVE: "en cours de validité", TEMPORARY_STOP: "en arrêt temporaire", SUSPENDED: "suspendu",
            WITHDRAWN: "retiré"}.get(status, status)
