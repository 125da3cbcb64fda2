"""Search benchmark: `run(n)` fills a fresh SQLite database with n synthetic fiches over many communes, then times
the search the API runs (by INSEE code, and by name). Prints figures measured on this machine; asserts nothing.

Communes get about 9 fiches each on average (309,400 assmats for some 35,000 communes in France), skewed so that a
few large communes hold hundreds or thousands, like the cities do.
"""
from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from fiche.adapters.orm import communes, fiches, places
from fiche.projection.domain.publication import KIND_ASSMAT, today
from fiche.search import queries
from services.text import commune_key, fold
from services.db import make_engine, make_session_factory, upgrade

LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
              "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
              "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez")
FIRST_NAMES = ("Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Sandrine", "Christine", "Valérie", "Céline",
               "Sophie", "Stéphanie", "Véronique", "Aurélie", "Émilie", "Julie", "Karine", "Laetitia", "Hélène")
FICHES_PER_COMMUNE = 9
CHUNK = 5_000


def _fill(session_factory, n: int, rng: random.Random) -> list[str]:
    commune_count = max(1, min(n // FICHES_PER_COMMUNE, 89_999))
    codes = [f"{10_000 + index:05d}" for index in range(commune_count)]
    validity_start, validity_end = today() - dt.timedelta(days=2 * 365), today() + dt.timedelta(days=3 * 365)
    with session_factory() as session, session.begin():
        rows = [{"insee_code": code, "name": f"Commune {code}", "search_name": commune_key(f"Commune {code}"),
                 "postcodes": code} for code in codes]
        for start in range(0, len(rows), CHUNK):
            session.execute(communes.insert(), rows[start:start + CHUNK])
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for start in range(0, n, CHUNK):
        fiche_rows, place_rows = [], []
        for number in range(start, min(n, start + CHUNK)):
            code = codes[int(commune_count * rng.random() ** 3)]  # cubed: most fiches in the first communes
            last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
            status = rng.choices(("active", "temporary_stop", "withdrawn"), (90, 5, 5))[0]
            pmi_number = f"{number:06d}"
            fiche_rows.append({
                "fiche_id": uuid.UUID(int=rng.getrandbits(128), version=4).hex, "pmi_number": pmi_number,
                "place_id": pmi_number, "kind": KIND_ASSMAT, "civility": "Mme", "first_name": first,
                "last_name": last, "sort_name": fold(f"{last} {first}"), "email": f"{pmi_number}@example.org",
                "phone": "02 37 00 00 00", "postcode": code, "commune_insee": code, "capacity_total": 4,
                "capacity_under_3": rng.randint(1, 4), "validity_start": validity_start,
                "validity_end": validity_end, "status": status, "publication_opposed": rng.random() < 0.03,
                "in_mam": False, "mam_name": None, "publishable": status != "withdrawn",
                "published": status != "withdrawn", "agrement_occurred_at": now})
            place_rows.append({"place_id": pmi_number, "commune_insee": code, "latitude": 48.4,
                               "longitude": 1.5, "occurred_at": now})
        with session_factory() as session, session.begin():
            session.execute(fiches.insert(), fiche_rows)
            session.execute(places.insert(), place_rows)
    return codes


def _timed(session_factory, searches: list[dict]) -> list[float]:
    durations = []
    on = today()
    for search in searches:
        started = time.perf_counter()
        with session_factory() as session:
            queries.search(session, on=on, **search)
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def _report(label: str, durations: list[float]) -> dict[str, float]:
    ordered = sorted(durations)
    figures = {"p50_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
               "max_ms": ordered[-1]}
    print(f"  {label:<32} p50 {figures['p50_ms']:6.2f} ms   p95 {figures['p95_ms']:6.2f} ms   "
          f"max {figures['max_ms']:6.2f} ms")
    return figures


def run(n: int, searches: int = 300, seed: int = 28) -> dict[str, dict[str, float]]:
    """Fill a throw-away SQLite database with `n` fiches and time `searches` searches of each kind."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench-fiche.sqlite3'}"
        upgrade(url, "fiche:migrations")
        engine = make_engine(url)
        session_factory = make_session_factory(engine)
        started = time.perf_counter()
        codes = _fill(session_factory, n, rng)
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        print(f"fiche-svc search benchmark: {n} fiches in {len(codes)} communes "
              f"(filled in {time.perf_counter() - started:.1f} s), {searches} searches each")
        busiest = codes[0]
        with session_factory() as session:
            pages = -(-queries.commune(session, busiest, today())["fiches"] // 50)
        figures = {
            "by_insee": _report("by INSEE code, page 1", _timed(session_factory, [
                {"insee_code": codes[int(len(codes) * rng.random() ** 3)], "query": None, "page": 1,
                 "per_page": 20} for _ in range(searches)])),
            "by_name": _report("by commune name, page 1", _timed(session_factory, [
                {"insee_code": None, "query": f"commune {rng.choice(codes)}", "page": 1, "per_page": 20}
                for _ in range(searches)])),
            "busiest_every_page": _report(f"busiest commune, its {pages} pages", _timed(session_factory, [
                {"insee_code": busiest, "query": None, "page": 1 + index % pages, "per_page": 50}
                for index in range(searches)])),
        }
        engine.dispose()
    return figures
