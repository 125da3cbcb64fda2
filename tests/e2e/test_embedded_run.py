"""The README's Run command on its embedded default: `assmat run` alone (SQLite files, the SQLite bus across
processes, the mail sink), no server. The demo data reach the public search, a demo assmat activates from the
mail, Ctrl-C stops every process it started, and a second run keeps the data without loading the demo again."""
from __future__ import annotations

import csv
import datetime as dt
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from services.testing import eventually
from tests.e2e.portal import free_port

PASSWORD = "mot de passe du mode embarqué"


def start(data_dir, gateway_port: int, first_service_port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.cli", "--data-dir", str(data_dir), "run", "--quiet",
                             "--port", str(gateway_port), "--service-ports-from", str(first_service_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_ready(process: subprocess.Popen, timeout: float = 180) -> str:
    output, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if "Ctrl-C pour arrêter" in line:
            return "".join(output)
    raise AssertionError("the portal did not start:\n" + "".join(output))


def stop_like_ctrl_c(process: subprocess.Popen, data_dir) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert processes_using(data_dir) == [], "a service process outlived Ctrl-C"


def processes_using(data_dir) -> list[int]:
    """Pids whose environment names the run's data folder: the runner's children, not other tests' services."""
    marker = str(data_dir).encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def publishable_in_chartres(extract) -> int:
    """Demo rows of Chartres that the public site shows (DOMAIN.md: active or temporary stop, no opposition, agrément
    in force today)."""
    today = dt.date.today().isoformat()
    with extract.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for row in csv.DictReader(handle, delimiter=";")
                   if row["commune_insee"] == "28085" and row["status"] in ("active", "temporary_stop")
                   and row["publication_opposed"] != "1" and row["validity_start"] <= today <= row["validity_end"])


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def captcha_fields(identity: str, html: str) -> dict:
    """The page's captcha solved through identity's test-only hook (there in local runs only); {} if none."""
    match = re.search(r'name="captcha_id" value="([^"]+)"', html)
    if not match:
        return {}
    answer = requests.get(f"{identity}/api/captcha/{match.group(1)}/answer", timeout=5).json()["answer"]
    return {"captcha_id": match.group(1), "captcha_answer": answer}


def holder_known(data_dir, pmi_number: str) -> bool:
    """identity's projection knows the number (read in its database: failed tries at step 1 would lock it)."""
    import sqlite3
    with sqlite3.connect(data_dir / "identity.sqlite3") as connection:
        return connection.execute("SELECT 1 FROM agrement_holders WHERE pmi_number = ?",
                                  (pmi_number,)).fetchone() is not None


def test_run_command_alone_serves_demo_fiches_activation_and_keeps_data(tmp_path):
    gateway_port, first_service_port = free_port(), free_port() + 1000
    base = f"http://127.0.0.1:{gateway_port}"
    process = start(tmp_path, gateway_port, first_service_port)
    try:
        banner = wait_ready(process)
        assert base in banner and "280001" in banner
        assert len(processes_using(tmp_path)) == 12, \
            "a web process per service, a worker per service but gateway, the development FranceConnect provider"
        provider = f"http://127.0.0.1:{first_service_port + 5}"
        discovery = eventually(lambda: requests.get(provider + "/.well-known/openid-configuration", timeout=5).json(),
                               timeout=30, message="the development FranceConnect provider does not answer")
        assert discovery["issuer"] == provider
        expected = publishable_in_chartres(tmp_path / "demo-extract.csv")
        chartres = eventually(lambda: (r := requests.get(base + "/api/v1/fiches", params={"q": "Chartres"},
                                                         timeout=5).json()) and r["total"] == expected and r,
                              timeout=60, message=f"the {expected} demo fiches of Chartres did not all appear")
        assert all(fiche["commune"]["name"] == "Chartres" for fiche in chartres["fiches"])

        browser = requests.Session()
        identity = f"http://127.0.0.1:{first_service_port}"
        eventually(lambda: holder_known(tmp_path, "280001"), timeout=60, message="identity does not know 280001")
        form = browser.get(base + "/espace-pro/activation")
        step_two = browser.post(base + "/espace-pro/activation", data={
            "csrf_token": csrf(form.text), "pmi_number": "280001", "birth_date_day": "12",
            "birth_date_month": "04", "birth_date_year": "1985", **captcha_fields(identity, form.text)})
        assert step_two.url.endswith("/compte"), step_two.text[:500]
        browser.post(base + "/espace-pro/activation/compte", data={
            "csrf_token": csrf(step_two.text), "email": "marie@example.org", "password": PASSWORD,
            "password_confirmation": PASSWORD})
        sink = f"http://127.0.0.1:{first_service_port + 4}/api/sink/messages"
        mail = eventually(lambda: requests.get(sink, params={"to": "marie@example.org"}, timeout=5).json(),
                          timeout=30, message="no mail in the local sink")[0]
        link = next(url for url in mail["links"] if "confirmer" in url)
        assert "activé" in browser.get(link).text
        login = browser.get(base + "/espace-pro/connexion")
        home = browser.post(base + "/espace-pro/connexion", data={
            "csrf_token": csrf(login.text), "pmi_number": "280001", "password": PASSWORD})
        assert "DUPONT" in home.text and home.url.rstrip("/").endswith("/espace-pro")

        # The demo structures are loaded too: the demo MAM asks for its first password and gets the link.
        assert "mam28-01@example.org" in banner
        asked = base + "/espace-pro/mot-de-passe-oublie"

        def mam_mailed() -> list:
            browser.post(asked, data={"csrf_token": csrf(browser.get(asked).text), "email": "mam28-01@example.org",
                                      "account_type": "mam"})
            return requests.get(sink, params={"to": "mam28-01@example.org"}, timeout=5).json()

        mam_mail = eventually(mam_mailed, timeout=30, message="no password link for the demo MAM")[0]
        assert any("mot-de-passe-oublie/nouveau" in url for url in mam_mail["links"])

        # The PMI imports a modified extract while the portal runs: the search shows it within seconds.
        modified = tmp_path / "modified.csv"
        with (tmp_path / "demo-extract.csv").open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=";")
            rows = [dict(row, last_name="NOUVEAU-NOM") if row["pmi_number"] == "280001" else row for row in reader]
        with modified.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=reader.fieldnames, delimiter=";")
            writer.writeheader()
            writer.writerows(rows)
        imported = subprocess.run([sys.executable, "-m", "services.cli", "--data-dir", str(tmp_path), "import",
                                   str(modified), "--quiet"], capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0 and "1 modifiés" in imported.stdout, imported.stdout + imported.stderr
        eventually(lambda: "NOUVEAU-NOM" in requests.get(base + "/api/v1/fiches", params={"q": "Chartres",
                                                                                         "per_page": 50},
                                                          timeout=5).text,
                   timeout=15, message="the modified extract did not reach the search")
    finally:
        if process.poll() is None:
            stop_like_ctrl_c(process, tmp_path)

    again = start(tmp_path, gateway_port, first_service_port)
    try:
        wait_ready(again)
        assert requests.get(base + "/api/v1/fiches", params={"q": "Chartres"}, timeout=5).json()["total"] == \
            chartres["total"], "the second run must keep the data and not load the demo twice"
        browser = requests.Session()
        login = browser.get(base + "/espace-pro/connexion")
        home = browser.post(base + "/espace-pro/connexion", data={
            "csrf_token": csrf(login.text), "pmi_number": "280001", "password": PASSWORD})
        assert "NOUVEAU-NOM" in home.text, "the account activated in the first run is still there"
    finally:
        stop_like_ctrl_c(again, tmp_path)
