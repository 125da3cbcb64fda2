"""How the pages write names, dates, counts and the PMI's codes in French (Jinja filters and globals)."""
from __future__ import annotations

from datetime import date

from flask import Flask

from gateway.settings import Settings

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")

STATUS_LABELS = {
    "active": "En cours de validité",
    "temporary_stop": "Activité suspendue temporairement",
    "suspended": "Agrément suspendu",
    "withdrawn": "Agrément retiré",
    "expired": "Agrément expiré",
    "not_started": "Pas encore en vigueur",
}
PLACE_LABELS = {"home": "À domicile", "mam": "En maison d'assistants maternels (MAM)"}


def date_fr(value) -> str:
    """`2021-09-01` → `1er septembre 2021`; anything unparsable is shown as it came."""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value or "")
    return f"{'1er' if day.day == 1 else day.day} {MONTHS[day.month - 1]} {day.year}"


def person_name(record: dict) -> str:
    return " ".join(str(record[key]) for key in ("civility", "first_name", "last_name") if record.get(key))


def fiche_view(raw: dict) -> dict:
    """A fiche from fiche-svc (which nests `commune`, `capacity`, `mam` and `contact`) as the pages show it."""
    commune, capacity = raw.get("commune") or {}, raw.get("capacity") or {}
    mam, contact = raw.get("mam") or {}, raw.get("contact") or {}
    return {
        "id": raw.get("id"), "name": person_name(raw), "status": raw.get("status"),
        "commune_insee": commune.get("insee"), "commune_name": commune.get("name") or "",
        "postcode": commune.get("postcode"), "capacity_total": capacity.get("total"),
        "capacity_under_3": capacity.get("under_3"), "mam_name": mam.get("name"),
        "phone": contact.get("phone"), "email": contact.get("email"), "presentation": raw.get("presentation"),
    }


def plural(count, singular: str, plural_form: str | None = None) -> str:
    """`4 places`, `1 place`, `0 place` (French puts 0 and 1 in the singular)."""
    try:
        number = int(count)
    except (TypeError, ValueError):
        return ""
    return f"{number} {singular if abs(number) < 2 else (plural_form or singular + 's')}"


def init_app(app: Flask, settings: Settings) -> None:
    app.jinja_env.filters.update(date_fr=date_fr, person_name=person_name,
                                 status_label=lambda code: STATUS_LABELS.get(code, code or ""),
                                 place_label=lambda code: PLACE_LABELS.get(code, code or ""))
    # The espace pro's tab bar shows a tab only when its page is part of this build (pro/_tabs.html).
    app.jinja_env.globals.update(tab_available=lambda endpoint: endpoint in app.view_functions)
    app.jinja_env.globals.update(plural=plural, site={
        "departement": settings.departement, "departement_name": settings.departement_name,
        "pmi_phone": settings.pmi_phone, "is_local": settings.is_local,
    })
