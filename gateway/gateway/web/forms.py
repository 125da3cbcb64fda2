"""What the forms of the site share: the submitted values, the errors per field, dates given in three fields."""
from __future__ import annotations

from datetime import date

from gateway.clients import DownstreamError
from services.validators import parse_pmi_number


class Form:
    """The values of a posted form (stripped; secrets untouched) and an error message per field.

    `fields` lists the inputs in page order: the error summary follows it, and a refusal from a service that names
    no field is put on the first one so that it is shown next to a field all the same.
    """

    def __init__(self, fields: tuple[str, ...], data, secret: tuple[str, ...] = ()):
        self.fields = fields
        self.values = {name: (data.get(name, "") if name in secret else data.get(name, "").strip())
                       for name in fields}
        self.secret = secret
        self.errors: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def refusal(self, error: DownstreamError, keywords: dict[str, str]) -> None:
        """Show a service's refusal next to the field its code is about (`weak_password` → password)."""
        field = next((name for keyword, name in keywords.items() if keyword in error.code), self.fields[0])
        self.error(field, error.message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def shown(self, name: str) -> str:
        """The value to put back in the page: never a password."""
        return "" if name in self.secret else self.values.get(name, "")

    def summary(self) -> list[tuple[str, str]]:
        return [(name, self.errors[name]) for name in self.fields if name in self.errors]


def check_pmi_number(form: Form) -> None:
    """The number as identity reads it (spaces between the digits forgiven, as on a letter: '28 01 53'), kept in
    the form in its 6-digit form."""
    if not form["pmi_number"]:
        form.error("pmi_number", "Saisissez votre numéro de dossier PMI.")
        return
    try:
        form.values["pmi_number"] = parse_pmi_number(form["pmi_number"], allow_spaces=True)
    except ValueError:
        form.error("pmi_number", "Le numéro de dossier PMI comporte exactement 6 chiffres, par exemple 280153.")


def check_date(form: Form, name: str, label: str, today: date) -> date | None:
    """A date given as three fields `<name>_day`, `<name>_month`, `<name>_year` (the most accessible way)."""
    parts = [form[f"{name}_{part}"] for part in ("day", "month", "year")]
    if not all(parts):
        form.error(name, f"{label} doit comporter un jour, un mois et une année.")
        return None
    try:
        day, month, year = (int(part) for part in parts)
        value = date(year, month, day)
    except ValueError:
        form.error(name, f"{label} doit être une date réelle, par exemple 12 4 1985.")
        return None
    if year < 1900:
        form.error(name, f"{label} doit comporter une année sur 4 chiffres, par exemple 1985.")
        return None
    if value >= today:
        form.error(name, f"{label} doit être dans le passé.")
        return None
    return value
