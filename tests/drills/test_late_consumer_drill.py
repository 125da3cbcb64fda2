"""Late consumers (issue 5), on PostgreSQL and RabbitMQ: a service whose queue `migrate` declared receives every
event agrement-svc's worker published before that service's worker ever ran; an event published while no queue is
bound to its type is kept in the unroutable queue, and `assmat dlq replay` delivers it once its consumer exists."""
from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io

import pytest

from services.catalogue.agrement import AGREMENT_WITHDRAWN
from services.testing import eventually
from tests.drills.harness import DrillPortal, agrement_data, outbox_counts, per_subject

pytestmark = pytest.mark.drill

ROWS = 200
HAS_DLQ = importlib.util.find_spec("services.dlq") is not None
NO_DLQ = "assmat dlq (services/services/dlq.py) is not in this tree yet: it comes with branch w1-bus"


@pytest.fixture
def publisher_only(real_servers, tmp_path):
    """agrement-svc's worker running; geo-svc migrated (its queue declared by `python -m geo migrate`) but not
    started."""
    portal = DrillPortal(real_servers, tmp_path, "late", ["agrement", "geo"])
    try:
        portal.migrate("agrement", "geo")
        portal.start_worker("agrement")
        portal.wait_workers_ready("agrement")
        yield portal
    finally:
        portal.close()


def write_extract(portal: DrillPortal, path, count: int, seed: int, first_pmi_number: int) -> list[dict]:
    """A demo extract renumbered into the drill's own range of PMI numbers."""
    demo = portal.command("agrement", "demo-extract", "--count", str(count), "--seed", str(seed)).stdout
    reader = csv.DictReader(io.StringIO(demo), delimiter=";")
    rows = [dict(row, pmi_number=str(first_pmi_number + index),
                 mam_id=row["mam_id"] and f"{first_pmi_number}-{row['mam_id']}")
            for index, row in enumerate(reader)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=reader.fieldnames, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def all_sent(portal: DrillPortal) -> bool:
    counts = outbox_counts(portal, "agrement")
    assert counts["parked"] == 0, counts
    return counts["pending"] == 0


def test_a_consumer_declared_by_migrate_receives_every_event_published_before_it_first_ran(publisher_only,
                                                                                          tmp_path, timeline):
    portal = publisher_only
    extract = tmp_path / "extract.csv"
    rows = write_extract(portal, extract, ROWS, seed=9, first_pmi_number=400000)
    portal.command("agrement", "import", str(extract), "--quiet")
    eventually(lambda: all_sent(portal), timeout=60, message="agrement-svc's relay did not publish the import")
    timeline.mark(f"{ROWS} agrément events published, geo-svc's worker never started")
    assert portal.waiting("geo") == ROWS, "the events must wait in geo-svc's queue, declared by its migrate"

    portal.start_worker("geo")
    eventually(lambda: portal.scalar("geo", "SELECT count(*) FROM places") == ROWS, timeout=120, interval=0.5,
               message="geo-svc did not locate every place published before it started")
    timeline.mark("geo-svc started and located every place")
    places = dict(portal.rows("geo", "SELECT place_id, commune_insee FROM places WHERE NOT needs_review"))
    assert places == {row["pmi_number"]: row["commune_insee"] for row in rows}
    assert set(per_subject(portal, "geo", "place.located").values()) == {1}
    assert portal.waiting("geo") == 0 and portal.waiting("geo.dead") == 0


@pytest.fixture
def nothing_declared(real_servers, tmp_path):
    """A namespace where no service ran `migrate` yet: identity's database is ready, its queue not declared."""
    portal = DrillPortal(real_servers, tmp_path, "unbound", ["identity"])
    try:
        yield portal
    finally:
        portal.close()


@pytest.mark.skipif(not HAS_DLQ, reason=NO_DLQ)
def test_an_event_nobody_was_bound_to_is_kept_and_replayed_once_its_consumer_exists(nothing_declared, timeline):
    portal = nothing_declared
    subject = "420001"
    # Published as a producer would whose consumers' queues were not declared (its migrate did not run, or knew
    # an older catalogue): the exchange exists, nothing is bound to the type.
    withdrawal = dataclasses.replace(AGREMENT_WITHDRAWN.build(subject, agrement_data(subject, status="withdrawn")),
                                     sequence=1)
    portal.bus.publish(withdrawal)
    timeline.mark("agrement.withdrawn published while no queue is bound to it")
    kept = [body for _, body in portal.peek("unroutable")]
    assert [body["id"] for body in kept] == [withdrawal.id], "the event was not kept in the unroutable queue"
    listed = portal.dlq("list", without=("IDENTITY_DATABASE_URL",))  # identity is not deployed yet
    assert listed.returncode == 0 and withdrawal.id in listed.stdout, listed.stdout + listed.stderr
    assert "unroutable" in listed.stdout

    portal.migrate("identity")  # its consumer comes: queue and bindings declared, then the worker
    portal.start_worker("identity")
    portal.wait_workers_ready("identity")
    replayed = portal.dlq("replay", withdrawal.id)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    timeline.mark("identity migrated and started; assmat dlq replay")
    eventually(lambda: portal.rows("identity", "SELECT agrement_status FROM agrement_holders WHERE pmi_number = :n",
                                   n=subject) == [("withdrawn",)], timeout=30,
               message="identity did not receive the replayed withdrawal")
    timeline.mark("identity applied the replayed withdrawal")
    assert portal.peek("unroutable") == [], "a replayed event must leave the unroutable queue"
    assert portal.waiting("identity") == 0 and portal.waiting("identity.dead") == 0
