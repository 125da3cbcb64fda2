"""fiche-svc's worker is killed (SIGKILL) in the middle of an import and restarted: every agrément still gets its
fiche, none twice — at-least-once delivery plus the idempotent inbox, across real processes and RabbitMQ."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import sqlalchemy as sa

from services.db import make_engine
from services.testing import eventually
from tests.e2e.portal import write_demo_extract

ROWS = 1500
FIRST_PMI_NUMBER = 700000  # a range of its own, so other tests' data do not count


def fiche_counts(engine) -> tuple[int, int, int]:
    """(fiches of the range, published ones, fiche.published events for them in fiche-svc's outbox)."""
    in_range = sa.text("pmi_number >= :low AND pmi_number < :high")
    bounds = {"low": str(FIRST_PMI_NUMBER), "high": str(FIRST_PMI_NUMBER + ROWS)}
    with engine.connect() as connection:
        total, published = connection.execute(
            sa.text(f"SELECT count(*), coalesce(sum(CASE WHEN published THEN 1 ELSE 0 END), 0) FROM fiches "
                    f"WHERE {in_range}"), bounds).one()
        ids = set(connection.execute(sa.text(f"SELECT fiche_id FROM fiches WHERE {in_range}"), bounds).scalars())
        payloads = connection.execute(sa.text("SELECT payload FROM outbox WHERE event_type = 'fiche.published'"))
        published_events = sum(1 for (payload,) in payloads if json.loads(payload)["data"]["fiche_id"] in ids)
    return total, published, published_events


def test_killing_the_fiche_worker_during_an_import_loses_nothing_and_duplicates_nothing(portal, tmp_path):
    extract = tmp_path / "crash.csv"
    write_demo_extract(portal, extract, count=ROWS, seed=3, first_pmi_number=FIRST_PMI_NUMBER)
    fiche_db = make_engine(portal.env["FICHE_DATABASE_URL"])
    try:
        importing = subprocess.Popen([sys.executable, "-m", "agrement", "import", str(extract), "--quiet"],
                                     env=portal.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Kill it once it is visibly busy with this import, not before and not after.
        eventually(lambda: fiche_counts(fiche_db)[0] > 50, timeout=120, interval=0.05,
                   message="fiche-svc's worker never started on the import")
        portal.kill_worker("fiche")
        killed_at = fiche_counts(fiche_db)[0]
        assert killed_at < ROWS, "the import finished before the worker could be killed: make it bigger"
        time.sleep(1)
        portal.start_worker("fiche")
        out, err = importing.communicate(timeout=300)
        assert importing.returncode == 0, out + err
        assert f"{ROWS} nouveaux agréments" in out

        total, published, events = eventually(
            lambda: (counts := fiche_counts(fiche_db))[0] == ROWS and counts[2] == counts[1] and counts,
            timeout=180, interval=0.5, message="fiches missing after the restart")
        assert (total, events) == (ROWS, published)
        assert published > ROWS // 2, "most demo agréments are publishable"
    finally:
        fiche_db.dispose()
