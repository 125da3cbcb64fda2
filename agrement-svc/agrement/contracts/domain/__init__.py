"""What an assmat types about a child under contract, checked field by field (French messages), pure."""
from __future__ import annotations

import datetime as dt
import re

from agrement.capacity.domain import Slot, age_in_years

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 .]{10,20}$")
MAX_REPRESENTATIVES = 2


class Invalid(Exception):
    """Input refused: `errors` maps each field to its French message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_date(value, field: str, errors: dict[str, str], label: str) -> dt.date | None:
    if value in (None, ""):
        errors[field] = f"Indiquez {label}."
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors[field] = f"{label[0].upper()}{label[1:]} n'est pas une date valide (AAAA-MM-JJ)."
        return None


def parse_first_name(value, field: str, errors: dict[str, str]) -> str | None:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not name:
        errors[field] = "Indiquez le prénom."
        return None
    if len(name) > 100 or any(ch.isdigit() for ch in name):
        errors[field] = "Le prénom doit faire au plus 100 caractères, sans chiffres."
        return None
    return name


def check_birth_date(birth: dt.date | None, field: str, errors: dict[str, str], today: dt.date) -> None:
    if birth is None:
        return
    if birth > today:
        errors[field] = "La date de naissance ne peut pas être dans le futur."
    elif age_in_years(birth, today) >= 18:
        errors[field] = "L'enfant doit être mineur."


def minutes(value: str) -> int | None:
    match = _TIME.match(str(value or ""))
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def parse_schedule(value, errors: dict[str, str]) -> list[dict]:
    """Weekly slots [{"weekday": 0..6, "start": "HH:MM", "end": "HH:MM"}]: end after start, no overlap."""
    if not isinstance(value, list) or not value:
        errors["schedule"] = "Indiquez au moins un créneau d'accueil (jour, heure de début et de fin)."
        return []
    if len(value) > 50:
        errors["schedule"] = "Trop de créneaux (50 au plus)."
        return []
    slots = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors["schedule"] = f"Créneau {index + 1} : format invalide."
            return []
        weekday = item.get("weekday")
        start, end = minutes(item.get("start")), minutes(item.get("end"))
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            errors["schedule"] = f"Créneau {index + 1} : choisissez un jour de la semaine."
            return []
        if start is None or end is None:
            errors["schedule"] = f"Créneau {index + 1} : les heures s'écrivent HH:MM."
            return []
        if end <= start:
            errors["schedule"] = f"Créneau {index + 1} : l'heure de fin doit suivre l'heure de début."
            return []
        slots.append({"weekday": weekday, "start": item["start"], "end": item["end"]})
    by_day = sorted(slots, key=lambda s: (s["weekday"], s["start"]))
    for a, b in zip(by_day, by_day[1:]):
        if a["weekday"] == b["weekday"] and minutes(b["start"]) < minutes(a["end"]):
            errors["schedule"] = "Deux créneaux du même jour se chevauchent."
            return []
    return by_day


def parse_representatives(value, errors: dict[str, str]) -> list[dict]:
    """The legal representatives' contacts (R421-39): 1 or 2, each a name and a phone or an e-mail."""
    if not isinstance(value, list) or not value:
        errors["representatives"] = "Indiquez au moins un représentant légal (nom et téléphone ou e-mail)."
        return []
    if len(value) > MAX_REPRESENTATIVES:
        errors["representatives"] = "Deux représentants légaux au plus."
        return []
    found = []
    for index, item in enumerate(value):
        item = item if isinstance(item, dict) else {}
        name = " ".join(str(item.get("name") or "").split())
        phone = str(item.get("phone") or "").strip()
        email = str(item.get("email") or "").strip()
        where = f"Représentant {index + 1} : "
        if not name or len(name) > 200:
            errors["representatives"] = where + "indiquez son nom (200 caractères au plus)."
        elif not phone and not email:
            errors["representatives"] = where + "indiquez un téléphone ou un e-mail."
        elif phone and not _PHONE.match(phone):
            errors["representatives"] = where + "le numéro de téléphone n'est pas valide."
        elif email and (len(email) > 254 or not _EMAIL.match(email)):
            errors["representatives"] = where + "l'adresse e-mail n'est pas valide."
        else:
            found.append({"name": name, "phone": phone or None, "email": email or None})
            continue
        return []
    return found


def slots_of(schedule: list[dict]) -> tuple[Slot, ...]:
    return tuple(Slot(s["weekday"], minutes(s["start"]), minutes(s["end"])) for s in schedule or ())


def periods_overlap(start_a: dt.date, end_a: dt.date | None, start_b: dt.date, end_b: dt.date | None) -> bool:
    return (end_b is None or start_a <= end_b) and (end_a is None or start_b <= end_a)
