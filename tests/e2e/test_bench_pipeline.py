"""`assmat bench pipeline` on the real servers: it follows an import through every service's worker until every
fiche is searchable, and leaves no database, queue or process behind."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from services.bus import Bus


def test_bench_pipeline_measures_every_stage_and_cleans_up(real_servers):
    done = subprocess.run([sys.executable, "-m", "services.cli", "bench", "pipeline", "--size", "40",
                           "--postgres-url", real_servers.postgres_url, "--broker-url", real_servers.broker_url],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["settled"] is True
    assert figures["import"]["rows"] == 40 and figures["import"]["rows_per_second"] > 0
    assert figures["relays"]["agrement"]["published"] == 40
    for consumer in ("geo", "identity", "fiche"):
        rates = figures["consumers"][consumer]
        assert rates["events"] == rates["expected"] > 0, consumer
    assert figures["consumers"]["fiche"]["expected"] == 40 + figures["relays"]["geo"]["published"] - sum(
        row[0] for row in figures["unrouted"]["geo"].values()), "agrément events and places located"
    assert 0 < figures["searchable"]["fiches"] <= 40 and figures["searchable"]["seconds_after_import_start"] > 0
    assert figures["plain_with_confirms"]["per_second"] > 0 and figures["plain_without_confirms"]["per_second"] > 0

    admin = sa.create_engine(real_servers.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect() as connection:
        left = connection.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :name"),
                                  {"name": f"{figures['namespace']}%"}).scalars().all()
    admin.dispose()
    assert left == [], "its databases are dropped"
    bus = Bus(real_servers.broker_url, figures["namespace"])
    assert [bus.waiting(bus.queue_name(name)) for name in ("geo", "identity", "fiche")] == [None] * 3
    assert _processes_with(f"BUS_NAMESPACE={figures['namespace']}".encode()) == [], "its workers are stopped"


def _processes_with(variable: bytes) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if variable in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # ended meanwhile, or not ours
            continue
    return found
