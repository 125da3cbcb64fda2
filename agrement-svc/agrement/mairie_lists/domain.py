"""What a mairie's list (CASF L421-8) holds and its CSV form. Pure: no framework, no database.

The list names every assmat whose agrément lets her work in the commune (active, or in a temporary stop: the
agrément stays), with her address and phone, whether or not she opposed publication on the public site: an
opposition takes her off the site, never off the list the law asks the département to keep for mairies.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

LISTED_STATUSES = ("active", "temporary_stop")
STATUS_LABELS = {"active": "En activité", "temporary_stop": "Arrêt temporaire"}
PLACE_LABELS = {"home": "À domicile", "mam": "En MAM"}
COLUMNS = ("Nom", "Prénom", "Adresse d'exercice", "Code postal", "Téléphone", "Places", "Moins de 3 ans",
           "Lieu", "Situation", "Valable jusqu'au")


@dataclass(frozen=True)
class Mairie:
    insee_code: str
    commune_name: str
    address: str | None
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Entry:
    last_name: str
    first_name: str
    address: str
    postcode: str
    phone: str | None
    capacity_total: int
    capacity_under_3: int
    place: str
    status: str
    validity_end: dt.date

    def cells(self) -> list[str]:
        return [self.last_name, self.first_name, self.address, self.postcode, self.phone or "",
                str(self.capacity_total), str(self.capacity_under_3), PLACE_LABELS.get(self.place, self.place),
                STATUS_LABELS.get(self.status, self.status), self.validity_end.strftime("%d/%m/%Y")]


def listed(status: str, validity_end: dt.date, today: dt.date) -> bool:
    return status in LISTED_STATUSES and validity_end >= today


def title(mairie: Mairie) -> str:
    return f"Assistants maternels agréés — {mairie.commune_name} ({mairie.insee_code})"


def header_lines(mairie: Mairie, today: dt.date, count: int) -> list[str]:
    contact = [part for part in ((mairie.address or "").replace("\n", ", "), mairie.phone, mairie.email) if part]
    return [title(mairie),
            f"Destinataire : mairie de {mairie.commune_name}" + (f" — {' — '.join(contact)}" if contact else ""),
            f"Liste établie le {today.strftime('%d/%m/%Y')} par le service de PMI (article L421-8 du code de "
            f"l'action sociale et des familles) : {count} assistant(s) maternel(s)."]


def to_csv(mairie: Mairie, entries: list[Entry], today: dt.date) -> str:
    """Semicolon-separated, as French spreadsheets open it; the header lines come first, then the columns."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for line in header_lines(mairie, today, len(entries)):
        writer.writerow([line])
    writer.writerow([])
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(entry.cells())
    return out.getvalue()
