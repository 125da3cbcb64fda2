"""Start the whole portal as separate processes on the real servers, and talk to it like its users would."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from services.cli import (
    FRANCECONNECT_DEV, ProcessGroup, embedded_environment, migrate_all, portal_services, start_all, wait_ready)
from services.testing import eventually


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningPortal:
    env: dict[str, str]
    group: ProcessGroup
    data_dir: Path

    def url(self, package: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.env[package.upper() + '_PORT']}{path}"

    @property
    def base_url(self) -> str:
        return self.url("gateway")

    def run_import(self, extract: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "agrement", "import", str(extract), "--quiet"], env=self.env,
                              capture_output=True, text=True, timeout=300)

    def start_worker(self, package: str) -> None:
        self.group.start(f"{package}-worker", [sys.executable, "-m", package, "worker"])

    def kill_worker(self, package: str) -> None:
        self.group.stop(f"{package}-worker", kill=True)

    def captcha_answer(self, challenge_id: str) -> str:
        """The answer of a captcha, through identity's test-only hook: it exists only when ASSMAT_ENV is local or
        test (identity registers the route then; in production it is not there at all)."""
        response = requests.get(self.url("identity", f"/api/captcha/{challenge_id}/answer"), timeout=5)
        response.raise_for_status()
        return response.json()["answer"]

    def captcha_fields(self, html: str) -> dict:
        """The captcha of a page solved, as its form posts it; {} when the page shows none."""
        match = re.search(r'name="captcha_id" value="([^"]+)"', html)
        if not match:
            return {}
        return {"captcha_id": match.group(1), "captcha_answer": self.captcha_answer(match.group(1))}

    def wait_for_holder(self, pmi_number: str, timeout: float = 60) -> None:
        """Until identity's projection knows this PMI number (the import's events cross the bus). Read in
        identity's database, not by trying step 1: failed attempts would lock the number, as they should."""
        import sqlalchemy as sa
        engine = sa.create_engine(self.env["IDENTITY_DATABASE_URL"])
        try:
            def known() -> bool:
                with engine.connect() as connection:
                    return connection.execute(sa.text("SELECT 1 FROM agrement_holders WHERE pmi_number = :n"),
                                              {"n": pmi_number}).first() is not None
            eventually(known, timeout=timeout, message=f"identity does not know {pmi_number}")
        finally:
            engine.dispose()

    def mails_to(self, address: str) -> list[dict]:
        response = requests.get(self.url("notify", "/api/sink/messages"), params={"to": address}, timeout=5)
        response.raise_for_status()
        return response.json()


def start_portal(real_servers, data_dir: Path) -> RunningPortal:
    manifests = portal_services()
    ports = {manifest.name: free_port() for manifest in manifests}
    ports[FRANCECONNECT_DEV] = free_port()  # identity's development FranceConnect provider
    env = embedded_environment(data_dir, ports=ports)
    env.update({
        "ASSMAT_ENV": "test",
        "LOG_FORMAT": "json",
        "BROKER_URL": real_servers.broker_url,
        "BUS_NAMESPACE": real_servers.namespace,
        "GEO_DEPARTEMENTS": "28",
        "CONSUMER_RETRY_DELAYS_MS": "200,500,1000",
    })
    for manifest in manifests:
        if manifest.migrations is not None:
            env[f"{manifest.name.upper()}_DATABASE_URL"] = real_servers.database(manifest.name)
    migrate_all(env)
    group = ProcessGroup(env, log_dir=data_dir / "logs")
    try:
        start_all(group, env)
        wait_ready(env, timeout=90, group=group)
    except Exception:
        group.stop_all()
        raise
    return RunningPortal(env, group, data_dir)


def write_demo_extract(portal: RunningPortal, path: Path, *, count: int, seed: int, first_pmi_number: int,
                       name_tag: str = "") -> list[dict]:
    """A demo extract whose PMI numbers (and MAM ids) are renumbered into a range of the caller's own.

    The tests of a run share one portal: without their own ranges, one module's demo rows would modify another's;
    `name_tag` is appended to last names for tests that tell fiches apart by name. Row order is the generator's:
    the first row is the fixed demo assmat (Marie DUPONT, born 1985-04-12).
    """
    import csv
    import io
    demo = subprocess.run([sys.executable, "-m", "agrement", "demo-extract", "--count", str(count), "--seed",
                           str(seed)], env=portal.env, check=True, capture_output=True, text=True).stdout
    reader = csv.DictReader(io.StringIO(demo), delimiter=";")
    rows = [dict(row, pmi_number=str(first_pmi_number + index), last_name=row["last_name"] + name_tag,
                 mam_id=row["mam_id"] and f"{first_pmi_number}-{row['mam_id']}")
            for index, row in enumerate(reader)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=reader.fieldnames, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return rows
