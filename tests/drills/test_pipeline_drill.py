"""The pipeline drill (issue 5): an extract of N agréments flows agrement-svc → geo-svc → fiche-svc (and identity)
on PostgreSQL and RabbitMQ while the drill breaks things, then everything is counted: nothing lost, nothing applied
twice.

Faults, while events flow: the agrement worker (the outbox relay of the import's events) is SIGKILLed and
restarted; fiche-svc's worker is SIGKILLed in the middle of its work and restarted; up to 500 events every consumer
applied are published again (as a relay that dies between the broker's confirms and its commit does); every
worker's broker connection is cut for 30 s (through a TcpProxy) and, 5 s into that outage, geo-svc's database for
60 s.

N is DRILL_AGREMENTS (default 10,000, as the issue asks).
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from services.events import Event
from services.manifest import discover
from services.testing import eventually
from tests.drills.harness import DrillPortal, env_flag, outbox_counts, per_subject

pytestmark = pytest.mark.drill

AGREMENTS = env_flag("DRILL_AGREMENTS", 10_000)
BROKER_CUT_SECONDS = 30
DATABASE_CUT_SECONDS = 60
DATABASE_CUT_AFTER = 5  # seconds into the broker outage
PIPELINE = ("agrement", "geo", "fiche", "identity")
CONSUMERS = ("geo", "fiche", "identity")
RETRY_DELAYS_MS = (200, 500, 1000)  # the harness's CONSUMER_RETRY_DELAYS_MS


@pytest.fixture
def pipeline(real_servers, tmp_path):
    portal = DrillPortal(real_servers, tmp_path, "pipeline", list(PIPELINE), proxied_databases=("geo",),
                         settings={"CONSUMER_RETRY_DELAYS_MS": ",".join(map(str, RETRY_DELAYS_MS))})
    try:
        portal.migrate()
        for package in PIPELINE:
            portal.start_worker(package)
        portal.wait_workers_ready(*PIPELINE)
        yield portal
    finally:
        portal.close()


def count(portal: DrillPortal, package: str, table: str) -> int:
    return portal.scalar(package, f"SELECT count(*) FROM {table}")


def progress(portal: DrillPortal) -> dict:
    return {
        "identity holders": count(portal, "identity", "agrement_holders"),
        "geo places": count(portal, "geo", "places"),
        "fiches": count(portal, "fiche", "fiches"),
        "fiche places": count(portal, "fiche", "places"),
        "pending outbox rows": {package: outbox_counts(portal, package)["pending"] for package in PIPELINE},
        "waiting in queues": {queue: portal.waiting(queue) for package in CONSUMERS
                              for queue in (package, *(f"{package}.retry.{delay}ms" for delay in RETRY_DELAYS_MS))},
    }


def idle(state: dict) -> bool:
    """Nothing left to publish and nothing waiting to be consumed (rows leased by a dead relay count as pending)."""
    return not any(state["pending outbox rows"].values()) and all(
        waiting == 0 for waiting in state["waiting in queues"].values())


def converge(portal: DrillPortal, timeout: float, still_for: float = 60.0) -> dict:
    """Wait until every count is reached with nothing left in flight, and return the counts. Fails after
    `timeout`, or as soon as the pipeline has been idle and unchanged for `still_for` seconds short of the counts:
    then nothing will ever bring what is missing."""
    deadline = time.monotonic() + timeout
    last, unchanged_since = None, time.monotonic()
    while True:
        portal.assert_alive()
        state = progress(portal)
        if idle(state) and all(state[key] == AGREMENTS for key in ("identity holders", "geo places", "fiches",
                                                                     "fiche places")):
            return state
        now = time.monotonic()
        if state != last:
            last, unchanged_since = state, now
        elif idle(state) and now - unchanged_since > still_for:
            raise AssertionError(f"the pipeline stopped short of the counts, with nothing left in flight: {state}")
        if now > deadline:
            raise AssertionError(f"the pipeline did not converge within {timeout:.0f} s: {state}")
        time.sleep(2)


def publish_again(portal: DrillPortal, at_most: int) -> int:
    """Publish again (same id, same sequence) up to `at_most` agrément events every consumer already applied."""
    applied = set.intersection(*(
        {event_id for (event_id,) in portal.rows(package, "SELECT event_id FROM inbox WHERE event_type LIKE "
                                                          "'agrement.%'")} for package in CONSUMERS))
    rows = portal.rows("agrement", "SELECT position, event_id, payload FROM outbox WHERE sent_at IS NOT NULL "
                                   "ORDER BY position")
    events = [dataclasses.replace(Event.from_dict(json.loads(payload)), sequence=position)
              for position, event_id, payload in rows if event_id in applied][:at_most]
    assert events, "no event was applied everywhere yet"
    assert portal.bus.publish_many(events) == [None] * len(events)
    return len(events)


def kill_while(portal: DrillPortal, worker: str, busy, what: str, timeline, timeout: float) -> None:
    """SIGKILL `worker` as soon as `busy()` says it is in the middle of its work, then start it again."""
    eventually(lambda: portal.assert_alive() or busy(), timeout=timeout, interval=0.05,
               message=f"{worker} never got busy")
    portal.kill(f"{worker}-worker")
    timeline.mark(f"{worker} worker SIGKILLed ({what}: {busy()})")
    assert busy(), f"{worker} had finished before it was killed: the drill tested nothing (make N larger)"
    time.sleep(1)  # down for a moment, as an orchestrator's restart delay
    portal.start_worker(worker)
    timeline.mark(f"{worker} worker restarted")


def test_the_pipeline_loses_nothing_and_applies_nothing_twice_through_crashes_and_outages(pipeline, tmp_path,
                                                                                         timeline):
    portal = pipeline
    extract = tmp_path / "extract.csv"
    portal.command("agrement", "demo-extract", "--count", str(AGREMENTS), "--seed", "5", "--out", str(extract))
    with (tmp_path / "import.out").open("w") as out, (tmp_path / "import.err").open("w") as err:
        importing = subprocess.Popen([sys.executable, "-m", "agrement", "import", str(extract), "--quiet"],
                                     env=portal.env, stdout=out, stderr=err)
    timeline.mark(f"import of {AGREMENTS} agréments started")
    threading.Thread(target=lambda: timeline.mark(f"import finished (exit code {importing.wait()})"),
                     daemon=True).start()
    fault_timeout = 120 + AGREMENTS * 0.03

    # 1. The relay dies between claiming rows and marking them sent: they wait out their lease, then go again.
    def relaying() -> str | bool:
        sent = outbox_counts(portal, "agrement")["sent"]
        return min(500, AGREMENTS // 10) <= sent < AGREMENTS and f"{sent} of {AGREMENTS} published"
    kill_while(portal, "agrement", relaying, "relaying", timeline, fault_timeout)

    # 2. fiche-svc dies with a batch in hand: unacknowledged, it comes back to the restarted worker.
    def projecting() -> str | bool:
        fiches = count(portal, "fiche", "fiches")
        return max(50, AGREMENTS // 100) <= fiches < AGREMENTS and f"{fiches} fiches"
    kill_while(portal, "fiche", projecting, "projecting", timeline, fault_timeout)
    portal.wait_workers_ready("fiche", timeout=fault_timeout)

    # A relay that dies between the broker's confirms and its commit publishes its rows again: done here for sure,
    # with events every consumer already applied (so a duplicate can never stand in for an event lost elsewhere).
    duplicates = publish_again(portal, 500)
    timeline.mark(f"{duplicates} agrément events applied everywhere published a second time")

    # 3. Every worker loses the broker in the middle of its work; 5 s later geo-svc loses its database for 60 s.
    eventually(lambda: portal.assert_alive() or count(portal, "geo", "places") >= max(20, AGREMENTS // 50),
               timeout=fault_timeout, interval=0.2, message="geo-svc never started locating")
    broker, geo_database = portal.broker_proxy, portal.database_proxies["geo"]
    assert broker.connections >= len(CONSUMERS), "some worker does not reach the broker through the proxy"
    assert geo_database.connections > 0, "geo-svc's worker does not reach its database through the proxy"
    located = count(portal, "geo", "places")
    assert located < AGREMENTS, "geo-svc had finished before the outages: the drill tested nothing"
    broker.cut()
    broker_cut_at = timeline.mark(f"broker cut for every worker ({located} places located)")
    time.sleep(DATABASE_CUT_AFTER)
    geo_database.cut()
    database_cut_at = timeline.mark("geo-svc's database cut")
    # The outage shows in readiness: fiche-svc's worker (its database is fine) says it cannot consume.
    fiche_pid = portal.processes["fiche-worker"].pid
    eventually(lambda: portal.worker_not_ready("fiche", fiche_pid),
               timeout=BROKER_CUT_SECONDS - DATABASE_CUT_AFTER - 1, interval=0.5,
               message="fiche-svc's worker status still says ready with its broker cut")
    time.sleep(max(0.0, broker_cut_at + BROKER_CUT_SECONDS - timeline.now()))
    broker.restore()
    timeline.mark("broker restored")
    time.sleep(max(0.0, database_cut_at + DATABASE_CUT_SECONDS - timeline.now()))
    geo_database.restore()
    last_fault = timeline.mark("geo-svc's database restored (last fault)")
    portal.assert_alive()

    assert importing.wait(timeout=fault_timeout) == 0, (tmp_path / "import.err").read_text()
    assert f"{AGREMENTS} nouveaux agréments" in (tmp_path / "import.out").read_text()

    final = converge(portal, timeout=300 + AGREMENTS * 0.05)
    converged_at = timeline.mark("converged: every count reached, outboxes and queues empty")
    timeline.figure("time to converge after the last fault", f"{converged_at - last_fault:.1f} s")
    timeline.figure("counts", {key: value for key, value in final.items() if isinstance(value, int)})

    check_every_agrement_has_its_fiche_commune_and_pin(portal)
    check_nothing_applied_twice(portal, timeline)
    check_nothing_set_aside(portal, timeline)
    timeline.figure("redeliveries skipped by the inboxes (logged)",
                    {package: portal.log_lines(f"{package}-worker", "duplicate event ignored")
                     for package in CONSUMERS})


def check_every_agrement_has_its_fiche_commune_and_pin(portal: DrillPortal) -> None:
    agrements = {pmi: (commune, status) for pmi, commune, status in
                 portal.rows("agrement", "SELECT pmi_number, commune_insee, status FROM agrements")}
    assert len(agrements) == AGREMENTS
    fiches = {row[0]: row[1:] for row in portal.rows(
        "fiche", "SELECT f.pmi_number, f.commune_insee, p.commune_insee, p.latitude, p.longitude "
                 "FROM fiches f LEFT JOIN places p ON p.place_id = f.place_id")}
    wrong = [pmi for pmi, (commune, _) in agrements.items()
             if pmi not in fiches or fiches[pmi][:2] != (commune, commune) or None in fiches[pmi][2:]]
    assert not wrong, f"{len(wrong)} agréments without their fiche, its commune or its pin, e.g. " \
                      f"{[(pmi, agrements[pmi], fiches.get(pmi)) for pmi in wrong[:5]]}"
    assert len(fiches) == AGREMENTS, "fiches of no agrément"
    places = {row[0]: row[1:] for row in portal.rows(
        "geo", "SELECT place_id, commune_insee, latitude, longitude, needs_review FROM places")}
    misplaced = [pmi for pmi, (commune, _) in agrements.items()
                 if pmi not in places or places[pmi][0] != commune or None in places[pmi][1:3] or places[pmi][3]]
    assert not misplaced, f"{len(misplaced)} places not located in their commune, e.g. {misplaced[:5]}"
    holders = dict(portal.rows("identity", "SELECT pmi_number, agrement_status FROM agrement_holders"))
    assert holders == {pmi: status for pmi, (_, status) in agrements.items()}, "identity's holders differ"


def check_nothing_applied_twice(portal: DrillPortal, timeline) -> None:
    located = per_subject(portal, "geo", "place.located")
    assert len(located) == AGREMENTS, f"{AGREMENTS - len(located)} places never announced as located"
    twice = {subject: times for subject, times in located.items() if times > 1}
    assert not twice, f"places located more than once (an agrément event applied twice): {list(twice.items())[:5]}"
    assert not per_subject(portal, "geo", "place.needs_review"), "the demo's communes all have coordinates"

    published_fiches = set(portal.rows("fiche", "SELECT fiche_id FROM fiches WHERE published"))
    published_fiches = {fiche_id for (fiche_id,) in published_fiches}
    announced = per_subject(portal, "fiche", "fiche.published")
    assert set(announced) == published_fiches, (
        f"fiche.published missing for {len(published_fiches - set(announced))} published fiches, recorded for "
        f"{len(set(announced) - published_fiches)} unpublished ones")
    twice = {subject: times for subject, times in announced.items() if times > 1}
    assert not twice, f"fiche.published recorded more than once: {list(twice.items())[:5]}"
    assert len(published_fiches) > AGREMENTS // 2, "most demo agréments are publishable"
    updated = per_subject(portal, "fiche", "fiche.updated")
    assert max(updated.values(), default=0) <= 1, "a fiche changed twice, though each agrément had one state"
    assert not per_subject(portal, "fiche", "fiche.unpublished"), "nothing was withdrawn"
    timeline.figure("fiche.published", f"{len(announced)} (once each), fiche.updated {len(updated)}, "
                                       f"place.located {len(located)} (once each)")


def check_nothing_set_aside(portal: DrillPortal, timeline) -> None:
    for package in PIPELINE:
        counts = outbox_counts(portal, package)
        assert counts["parked"] == 0 and counts["pending"] == 0, f"{package}'s outbox: {counts}"
    for package in CONSUMERS:
        for queue in (package, f"{package}.dead", *(f"{package}.retry.{delay}ms" for delay in RETRY_DELAYS_MS)):
            assert portal.waiting(queue) == 0, f"{queue} holds {portal.waiting(queue)} message(s)"
    # The unroutable queue must never hold an event some service consumes: that one would be lost to it.
    consumed = {event_type for manifest in discover().values() for event_type in manifest.consumed_types}
    kept = portal.take_all("unroutable")
    kept_types = Counter(body["type"] for body in kept)
    assert not set(kept_types) & consumed, f"events with a consumer were unroutable: {kept_types}"
    if portal.waiting("unconsumed") is None:
        # A kernel that keeps there the events no service consumes (fiche.*, place.needs_review), before the
        # discarding queue `ns.unconsumed` came: each one sent must be there, and nothing else.
        sent_unconsumed = {event_id for package in PIPELINE for (event_id, event_type) in portal.rows(
            package, "SELECT event_id, event_type FROM outbox WHERE sent_at IS NOT NULL")
            if event_type not in consumed}
        assert {body["id"] for body in kept} == sent_unconsumed, "events without consumer lost on their way"
    else:
        assert not kept, f"the unroutable queue keeps only mistakes, and the drill made none: {kept_types}"
    timeline.figure("unroutable queue", dict(kept_types) or "empty")
