"""An agrément holder as identity knows her: the part of the agrément events it needs, nothing more."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Holder:
    """An agrément holder as identity knows her: enough to check step 1 and to greet her."""
    pmi_number: str
    birth_date: dt.date
    first_name: str
    last_name: str
    agrement_status: str
    birth_name: str | None = None
    email: str | None = None          # the address in the PMI's extract, if any
    validity_start: dt.date | None = None
    validity_end: dt.date | None = None

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name)


def display_name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip()
