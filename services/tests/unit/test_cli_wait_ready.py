"""`assmat run` waits for readiness as long as start-up makes progress, says what it waits for, and fails clearly.

The waiting logic runs here on fake probes and a fake clock; tests/e2e/test_embedded_run.py runs the real thing."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import responses

from services.cli import (ChildActivity, ProcessGroup, Readiness, StartupFailed, default_ports, portal_services,
                          describe_checks, probe_readiness, wait_ready)

PACKAGES = [manifest.name for manifest in portal_services()]
ENV = {f"{package.upper()}_PORT": str(port) for package, port in default_ports(18000, 18101).items()}
PORTS = {f"http://127.0.0.1:{port}/readyz": package for package, port in default_ports(18000, 18101).items()}

READY = Readiness(True, "prêt", "HTTP 200 {}")
SILENT = Readiness(False, "ne répond pas encore", "pas de connexion")
NO_BUS = Readiness(False, "base prête, bus en attente",
                   'HTTP 503 {"checks": {"broker": "failed: OperationalError", "database": "ok"}}')


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Script:
    """Each service's answers over (fake) time: `{package: [(from_second, Readiness), ...]}`, READY by default."""

    def __init__(self, time_: FakeTime, answers: dict[str, list[tuple[float, Readiness]]]):
        self.time, self.answers = time_, answers

    def __call__(self, url: str) -> Readiness:
        current = READY
        for since, answer in self.answers.get(PORTS[url], []):
            if self.time.now >= since:
                current = answer
        return current


def run(answers, **options):
    fake, said = FakeTime(), []
    options.setdefault("interval", 1.0)
    wait_ready(ENV, probe=Script(fake, answers), say=said.append, clock=fake.clock, sleep=fake.sleep, **options)
    return fake.now, said


def failure(answers, **options) -> tuple[float, str]:
    fake = FakeTime()
    options.setdefault("interval", 1.0)
    with pytest.raises(StartupFailed) as raised:
        wait_ready(ENV, probe=Script(fake, answers), say=lambda _: None, clock=fake.clock, sleep=fake.sleep,
                   **options)
    return fake.now, str(raised.value)


def test_returns_as_soon_as_every_service_is_ready():
    elapsed, said = run({"geo": [(0, SILENT), (3, READY)]})
    assert 3 <= elapsed < 5 and said == []


def test_a_slow_start_that_keeps_progressing_outlasts_the_stall_window():
    """One service becomes ready every 40 s: four minutes in all, never 60 s without progress."""
    answers = {package: [(0, SILENT), (40 * (index + 1), READY)] for index, package in enumerate(PACKAGES[:5])}
    elapsed, _ = run(answers, stall=60, timeout=600)
    assert 200 <= elapsed < 205


def test_a_start_stuck_on_the_same_answer_fails_after_the_stall_window_naming_the_service_and_its_answer():
    elapsed, message = failure({"geo": [(0, SILENT), (10, NO_BUS)]}, stall=60, timeout=600)
    assert 70 <= elapsed < 72
    assert "aucun progrès depuis 60 s" in message
    assert "geo : base prête, bus en attente" in message
    assert "failed: OperationalError" in message  # its last /readyz answer as it came
    assert "identity" not in message  # ready services are not listed


def test_activity_of_the_processes_counts_as_progress_until_the_hard_cap():
    elapsed, message = failure({"geo": [(0, NO_BUS)]}, stall=60, timeout=300, activity=lambda pending: True)
    assert 300 <= elapsed < 302
    assert "pas prêt après 300 s (limite)" in message and "geo : base prête, bus en attente" in message


def test_activity_is_asked_about_the_services_not_ready_yet():
    asked = []
    failure({"geo": [(0, NO_BUS)]}, stall=10, activity=lambda pending: asked.append(set(pending)) or False)
    assert asked and all(pending == {"geo"} for pending in asked)


def test_answers_that_keep_changing_still_stop_at_the_hard_cap():
    flapping = [(second, NO_BUS if second % 2 else SILENT) for second in range(0, 1000)]
    elapsed, message = failure({"fiche": flapping}, stall=60, timeout=120)
    assert 120 <= elapsed < 122 and "(limite)" in message and "fiche : " in message


def test_says_every_few_seconds_in_french_which_services_are_not_ready_and_why():
    elapsed, said = run({"geo": [(0, SILENT), (4, NO_BUS), (16, READY)],
                         "gateway": [(0, Readiness(False, "identity prêt, fiche-svc en attente", "")), (12, READY)]},
                        every=5)
    assert 16 <= elapsed < 18
    assert len(said) == 3  # at about 5, 10 and 15 s
    assert "geo : base prête, bus en attente" in said[0] and "gateway : identity prêt, fiche-svc en attente" in said[0]
    assert "4 services prêts sur 6" in said[0]
    assert "gateway" not in said[2] and "geo : base prête, bus en attente" in said[2]
    assert all("identity :" not in line for line in said)


class DeadGroup:
    log_dir = Path("/tmp/assmat-logs")

    def __init__(self):
        self.processes = {"geo-worker": subprocess.CompletedProcess([], 3)}

    def dead(self):
        return ["geo-worker"]


def test_a_dead_process_stops_the_wait_at_once():
    elapsed, message = failure({"geo": [(0, SILENT)]}, group=DeadGroup(), activity=lambda pending: True)
    assert elapsed == 0
    assert "processus terminé pendant le démarrage : geo-worker (code 3)" in message
    assert "Journaux des services : /tmp/assmat-logs" in message


class DiesLater(DeadGroup):
    def __init__(self, after: float):
        super().__init__()
        self.at = time.monotonic() + after

    def dead(self):
        return ["geo-worker"] if time.monotonic() >= self.at else []


def test_a_process_that_dies_while_a_probe_hangs_stops_the_wait_without_waiting_for_the_probe():
    hung = threading.Event()

    def hanging_probe(url: str) -> Readiness:
        hung.wait(10)
        return SILENT

    started = time.monotonic()
    with pytest.raises(StartupFailed, match="geo-worker"):
        wait_ready(ENV, probe=hanging_probe, group=DiesLater(0.3), say=lambda _: None, interval=0.1,
                   activity=lambda pending: False)
    hung.set()
    assert time.monotonic() - started < 3


# -- the probe ---------------------------------------------------------------------------------------------------

URL = "http://127.0.0.1:18104/readyz"


@responses.activate
def test_probe_summarises_a_not_ready_answer_in_french():
    responses.get(URL, status=503, json={"status": "not_ready", "service": "geo-svc",
                                         "checks": {"database": "ok", "broker": "failed: OperationalError",
                                                    "worker": "failed: WorkerStale"}})
    answer = probe_readiness(URL)
    assert not answer.ready
    assert answer.summary == "base prête, bus en attente, worker en attente"
    assert answer.detail.startswith("HTTP 503 ") and "OperationalError" in answer.detail


@responses.activate
def test_probe_names_the_gateways_downstream_services():
    responses.get(URL, status=503, json={"checks": {"identity": "ok", "fiche-svc": "failed: ConnectionError"}})
    assert probe_readiness(URL).summary == "identity prêt, fiche-svc en attente"
    checks = {"identity": "ok", "agrement-svc": "ok", "fiche-svc": "failed: X", "geo-svc": "ok", "notify-svc": "ok"}
    assert describe_checks(checks) == "fiche-svc en attente (4 autres prêts)"
    assert describe_checks(dict(checks, identity="failed: X", **{"geo-svc": "failed: X", "notify-svc": "failed: X"})) \
        == "identity, fiche-svc, geo-svc, notify-svc en attente (1 autre prêt)"


@responses.activate
def test_probe_ready_refused_and_odd_answers():
    responses.get(URL, status=200, json={"status": "ready", "checks": {"database": "ok"}})
    assert probe_readiness(URL).ready
    responses.replace(responses.GET, URL, body=requests.ConnectionError("refused"))
    assert probe_readiness(URL) == Readiness(False, "ne répond pas encore", f"pas de connexion à {URL}")
    responses.replace(responses.GET, URL, status=502, body="Bad Gateway")
    answer = probe_readiness(URL)
    assert (answer.ready, answer.summary, answer.detail) == (False, "répond HTTP 502", "HTTP 502 Bad Gateway")


# -- activity of the child processes -----------------------------------------------------------------------------

def test_child_activity_sees_log_output_and_cpu_work_of_the_services_asked_about(tmp_path):
    group = ProcessGroup({"PATH": "/usr/bin:/bin"}, log_dir=tmp_path)
    calm = tmp_path / "calm"
    busy = f"import os, time\nwhile not os.path.exists({str(calm)!r}): pass\ntime.sleep(60)"
    group.start("geo-worker", [sys.executable, "-c", busy])
    group.start("fiche-web", [sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        activity = ChildActivity(group, min_cpu_share=0.05)
        activity({"geo", "fiche"})
        time.sleep(1.0)
        if Path("/proc/self/stat").exists():
            assert activity({"geo"}), "a busy process counts as progress"
        calm.touch()
        time.sleep(0.5)  # the busy loop ends: both only sleep from now on
        activity({"geo", "fiche"})
        time.sleep(0.5)
        assert not activity({"geo", "fiche"}), "sleeping processes are no progress"
        (tmp_path / "fiche-web.log").write_text("listening\n")
        assert activity({"fiche"}), "a process that logged is progress"
        assert not activity({"fiche"})
    finally:
        group.stop_all()
