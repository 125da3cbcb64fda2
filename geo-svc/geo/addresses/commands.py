"""Loading a BAN CSV extract into the `addresses` table.

The published per-département files (`adresses-28.csv.gz`) are `;`-separated, UTF-8, one row per address point,
with (among others) the columns `id, numero, rep, nom_voie, code_postal, code_insee, nom_commune, lon, lat`.
`numero` 99999 marks a lieu-dit without number: it is kept as a street-level point (number "").
Rows are upserted by `id`, so loading a newer extract over an older one updates it.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from geo.adapters.geocoders import street_key
from geo.adapters.orm import addresses
from services.ordering import one_of, rows_insert
from services.text import fold

REQUIRED = ("id", "numero", "nom_voie", "code_postal", "code_insee", "nom_commune", "lon", "lat")
LIEU_DIT_NUMBER = "99999"


class InvalidExtract(ValueError):
    pass


def read_extract(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        yield from parse_rows(handle)


def parse_rows(handle: io.TextIOBase) -> Iterator[dict]:
    reader = csv.DictReader(handle, delimiter=";")
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise InvalidExtract(f"colonnes absentes de l'extrait BAN : {', '.join(missing)}")
    for line, row in enumerate(reader, start=2):
        try:
            latitude, longitude = float(row["lat"]), float(row["lon"])
        except (TypeError, ValueError):
            continue   # a row without position cannot geocode anything
        number = (row["numero"] or "").strip().lstrip("0")
        if number == LIEU_DIT_NUMBER or not number.isdigit():
            number = ""
        street = (row["nom_voie"] or row.get("nom_ld") or "").strip()
        if not street or len(row["code_insee"] or "") != 5:
            continue
        yield {"address_id": row["id"][:60] or f"line-{line}", "commune_insee": row["code_insee"],
               "commune_name": (row["nom_commune"] or "")[:200], "postcode": (row["code_postal"] or "")[:5],
               "street_name": street[:200], "street_key": street_key(street)[:200], "number": number[:6],
               "suffix": fold(row.get("rep") or "")[:10], "latitude": latitude, "longitude": longitude}


def load_addresses(session_factory: sessionmaker, rows: Iterator[dict], chunk: int = 5000) -> int:
    """Upsert the extract's rows, `chunk` at a time; returns how many rows were read."""
    count, buffer = 0, []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= chunk:
            count += _write(session_factory, buffer)
            buffer = []
    if buffer:
        count += _write(session_factory, buffer)
    return count


def _write(session_factory, rows: list[dict]) -> int:
    unique = {row["address_id"]: row for row in rows}
    with session_factory() as session, session.begin():
        session.execute(addresses.delete().where(one_of(session, addresses.c.address_id, list(unique))))
        insert, parameters = rows_insert(session, addresses, list(unique.values()))
        session.execute(insert, parameters)
    return len(rows)


def count_addresses(session_factory) -> int:
    with session_factory() as session:
        return session.execute(sa.select(sa.func.count()).select_from(addresses)).scalar_one()


SAMPLE = Path(__file__).parent / "sample" / "adresses-28-sample.csv"
