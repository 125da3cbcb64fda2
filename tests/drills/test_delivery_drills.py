"""Delivery drills (issue 5) on geo-svc, fiche-svc and identity running as real processes on PostgreSQL and
RabbitMQ, fed by agrément events the drill publishes itself: events delivered out of order converge on the newest
state; a poison event is dead-lettered after its retries while the queue moves on, and `assmat dlq` lists and
replays it; a worker restarted with other retry delays consumes normally; a stalled broker turns /readyz red.

The services share one set of processes (started once for the module); each drill uses subjects of its own.
"""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest
import sqlalchemy as sa

from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.events import Event
from services.testing import eventually
from tests.drills.harness import DrillPortal, agrement_data, per_subject

pytestmark = pytest.mark.drill

SERVICES = ("geo", "fiche", "identity")
RETRY_DELAYS_MS = (200, 500, 1000)
DREUX, CHARTRES = "28134", "28085"
BUS_HEARTBEAT_SECONDS = 10  # services.bus.Bus's default, which the workers use
HAS_DLQ = importlib.util.find_spec("services.dlq") is not None
NO_DLQ = "assmat dlq (services/services/dlq.py) is not in this tree yet: it comes with branch w1-bus"


@pytest.fixture(scope="module")
def services_up(real_servers, tmp_path_factory):
    """geo, fiche and identity workers, and identity's web process, reaching the broker through a proxy."""
    portal = DrillPortal(real_servers, tmp_path_factory.mktemp("delivery"), "delivery", list(SERVICES),
                         settings={"CONSUMER_RETRY_DELAYS_MS": ",".join(map(str, RETRY_DELAYS_MS))})
    try:
        portal.migrate()
        for package in SERVICES:
            portal.start_worker(package)
        portal.start_web("identity")
        portal.wait_workers_ready(*SERVICES)
        yield portal
    finally:
        portal.close()


@pytest.fixture
def portal(services_up):
    """The module's services, checked alive and ready before each drill (a previous drill must not leave a fault)."""
    services_up.broker_proxy.restore()
    services_up.wait_workers_ready(*SERVICES)
    return services_up


def stamped(event: Event, sequence: int) -> Event:
    """The event as agrement-svc's relay publishes it: its outbox position as sequence."""
    return dataclasses.replace(event, sequence=sequence)


def publish(portal: DrillPortal, *events: Event) -> None:
    assert portal.bus.publish_many(list(events)) == [None] * len(events), "the broker refused an event"


def handled_everywhere(portal: DrillPortal, event: Event) -> None:
    """Wait until every service consuming this event's type recorded it in its inbox (applied, or skipped)."""
    consumers = {"agrement.granted": SERVICES, "agrement.modified": SERVICES,
                 "agrement.withdrawn": ("fiche", "identity")}[event.type]
    for package in consumers:
        eventually(lambda: portal.inbox_has(package, event.id), timeout=60, interval=0.2,
                   message=f"{package} did not handle {event.type} {event.id}")


def fiche_of(portal: DrillPortal, pmi_number: str):
    rows = portal.rows("fiche", "SELECT f.fiche_id, f.last_name, f.commune_insee, f.status, f.published, "
                                "p.commune_insee AS place_commune FROM fiches f "
                                "LEFT JOIN places p ON p.place_id = f.place_id WHERE f.pmi_number = :n",
                       n=pmi_number)
    return rows[0] if rows else None


def geo_place(portal: DrillPortal, place_id: str):
    return portal.rows("geo", "SELECT address_line, commune_insee, latitude FROM places WHERE place_id = :p",
                       p=place_id)[0]


def holder(portal: DrillPortal, pmi_number: str):
    rows = portal.rows("identity", "SELECT last_name, agrement_status FROM agrement_holders WHERE pmi_number = :n",
                       n=pmi_number)
    return rows[0] if rows else None


# -- 3. reordered delivery ---------------------------------------------------------------------------------------

def test_a_modification_delivered_before_its_grant_converges_on_the_modification(portal, timeline):
    subject = "100001"
    granted = stamped(AGREMENT_GRANTED.build(subject, agrement_data(subject)), 10)
    modified = stamped(AGREMENT_MODIFIED.build(subject, agrement_data(
        subject, last_name="MARTIN", address_line="3 rue de la Gare", postcode="28100", commune_insee=DREUX,
        circonscription="Dreux", changed_fields=["address_line", "commune_insee", "last_name", "postcode"])), 20)
    assert granted.occurred_at < modified.occurred_at

    publish(portal, modified)  # the newer state first...
    handled_everywhere(portal, modified)
    eventually(lambda: getattr(fiche_of(portal, subject), "place_commune", None) == DREUX, timeout=60,
               message="fiche-svc never heard where the place is")
    timeline.mark("agrement.modified (sequence 20) applied everywhere")
    publish(portal, granted)   # ...then the older one, late
    handled_everywhere(portal, granted)
    timeline.mark("agrement.granted (sequence 10) delivered late, handled everywhere")

    assert geo_place(portal, subject)[:2] == ("3 rue de la Gare", DREUX), "geo-svc moved the place back"
    assert per_subject(portal, "geo", "place.located")[subject] == 1, "geo-svc located the place again"
    fiche = fiche_of(portal, subject)
    assert (fiche.last_name, fiche.commune_insee, fiche.place_commune, fiche.status, fiche.published) == \
        ("MARTIN", DREUX, DREUX, "active", True)
    assert per_subject(portal, "fiche", "fiche.published")[fiche.fiche_id] == 1
    assert tuple(holder(portal, subject)) == ("MARTIN", "active")


def test_a_withdrawal_delivered_before_its_grant_leaves_the_agrement_withdrawn(portal, timeline):
    subject = "100002"
    granted = stamped(AGREMENT_GRANTED.build(subject, agrement_data(subject)), 30)
    withdrawn = stamped(AGREMENT_WITHDRAWN.build(subject, agrement_data(subject, status="withdrawn")), 40)

    publish(portal, withdrawn, granted)  # one after the other: they may even share a batch
    handled_everywhere(portal, withdrawn)
    handled_everywhere(portal, granted)
    timeline.mark("agrement.withdrawn (40) then agrement.granted (30) handled everywhere")
    eventually(lambda: getattr(fiche_of(portal, subject), "place_commune", None) == CHARTRES, timeout=60,
               message="fiche-svc never heard where the place is")

    fiche = fiche_of(portal, subject)
    assert (fiche.status, fiche.published) == ("withdrawn", False), "the late grant published a withdrawn agrément"
    assert fiche.fiche_id not in per_subject(portal, "fiche", "fiche.published")
    assert tuple(holder(portal, subject)) == ("EXERCICE", "withdrawn"), "identity lets a withdrawn assmat activate"
    assert geo_place(portal, subject)[1] == CHARTRES  # geo-svc follows grants and modifications only


# -- 5. poison, dead letters, retry delays, readiness ------------------------------------------------------------

def refuse_last_name(portal: DrillPortal, last_name: str) -> str:
    """Make identity's database refuse one last name (a CHECK constraint): an event carrying it fails on its own
    every time, as poison does, until the constraint goes. Geo-svc and fiche-svc take it normally."""
    name = f"drill_refuse_{last_name.lower().replace('-', '_')}"
    with portal.engine("identity").begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE agrement_holders ADD CONSTRAINT {name} "
                                   f"CHECK (last_name <> '{last_name}')"))
    return name


def accept_again(portal: DrillPortal, constraint: str) -> None:
    with portal.engine("identity").begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE agrement_holders DROP CONSTRAINT {constraint}"))


def dead_letter(portal: DrillPortal, event_id: str):
    """(headers, body) of the event in identity's dead-letter queue, None while it is not there."""
    return next(((headers, body) for headers, body in portal.peek("identity.dead") if body["id"] == event_id),
                None)


def test_a_poison_event_is_dead_lettered_after_its_retries_while_the_queue_moves_on(portal, timeline):
    refuse_last_name(portal, "POISON-A")
    poison = stamped(AGREMENT_GRANTED.build("100011", agrement_data("100011", last_name="POISON-A")), 50)
    publish(portal, poison)
    timeline.mark("poison published")
    healthy = [stamped(AGREMENT_GRANTED.build(subject, agrement_data(subject)), 60 + index)
               for index, subject in enumerate(("100012", "100013", "100014"))]
    publish(portal, *healthy)
    for event in healthy:
        eventually(lambda: holder(portal, event.subject) is not None, timeout=30,
                   message="identity stopped behind the poison event")
    timeline.mark("the events published after it applied")

    headers, body = eventually(lambda: dead_letter(portal, poison.id), timeout=60, interval=0.5,
                               message="the poison event never reached identity's dead-letter queue")
    timeline.mark("poison dead-lettered")
    assert headers["x-assmat-attempts"] == len(RETRY_DELAYS_MS), "dead-lettered before all its retries"
    assert "drill_refuse_poison_a" in headers["x-assmat-error"], headers["x-assmat-error"]
    assert body["sequence"] == 50 and body["data"]["last_name"] == "POISON-A", "the letter must be the event"
    assert holder(portal, "100011") is None
    assert portal.waiting("identity") == 0
    assert all(portal.waiting(f"identity.retry.{delay}ms") == 0 for delay in RETRY_DELAYS_MS)
    # Poison for identity only: the other services applied it.
    eventually(lambda: getattr(fiche_of(portal, "100011"), "last_name", None) == "POISON-A", timeout=30,
               message="fiche-svc did not apply an event that is poison for identity only")


@pytest.mark.skipif(not HAS_DLQ, reason=NO_DLQ)
def test_assmat_dlq_lists_the_poison_event_and_replays_it_once_its_cause_is_fixed(portal, timeline):
    constraint = refuse_last_name(portal, "POISON-B")
    poison = stamped(AGREMENT_GRANTED.build("100021", agrement_data("100021", last_name="POISON-B")), 70)
    publish(portal, poison)
    eventually(lambda: dead_letter(portal, poison.id), timeout=60, interval=0.5,
               message="the poison event never reached identity's dead-letter queue")
    timeline.mark("poison dead-lettered")

    listed = portal.dlq("list")
    assert listed.returncode == 0, listed.stderr
    assert poison.id in listed.stdout and "identity" in listed.stdout, listed.stdout
    shown = portal.dlq("show", poison.id)
    assert shown.returncode == 0 and "POISON-B" in shown.stdout, shown.stdout + shown.stderr

    accept_again(portal, constraint)  # the operator fixes the cause...
    replayed = portal.dlq("replay", poison.id)  # ...and replays the letter
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    timeline.mark("assmat dlq replay")
    eventually(lambda: holder(portal, "100021") is not None, timeout=30,
               message="the replayed event was not applied")
    timeline.mark("replayed event applied")
    assert tuple(holder(portal, "100021")) == ("POISON-B", "active")
    assert dead_letter(portal, poison.id) is None, "a replayed letter must leave the dead-letter queue"
    assert poison.id not in portal.dlq("list").stdout


def test_a_worker_restarted_with_other_retry_delays_consumes_normally(portal, timeline):
    portal.stop("identity-worker")
    portal.start_worker("identity", CONSUMER_RETRY_DELAYS_MS="300,700")
    portal.wait_workers_ready("identity", timeout=60)
    timeline.mark("identity worker restarted with CONSUMER_RETRY_DELAYS_MS=300,700")
    healthy = stamped(AGREMENT_GRANTED.build("100031", agrement_data("100031")), 80)
    refuse_last_name(portal, "POISON-C")
    poison = stamped(AGREMENT_GRANTED.build("100032", agrement_data("100032", last_name="POISON-C")), 81)
    publish(portal, healthy, poison)
    eventually(lambda: holder(portal, "100031") is not None, timeout=30, message="the restarted worker consumes not")
    headers, _ = eventually(lambda: dead_letter(portal, poison.id), timeout=60, interval=0.5,
                            message="the poison event never reached identity's dead-letter queue")
    timeline.mark("an event applied, a poison dead-lettered through the new delays")
    assert headers["x-assmat-attempts"] == 2, "the new delays are two retries"
    assert portal.waiting("identity.retry.300ms") == 0 and portal.waiting("identity.retry.700ms") == 0
    assert portal.worker_not_ready("identity") is None


def test_a_stalled_broker_turns_readyz_red_and_back(portal, timeline):
    status, body = portal.readyz(portal.web_urls["identity"])
    assert status == 200, body
    portal.broker_proxy.stall()
    stalled_at = timeline.mark("broker stalled (connections open, nothing forwarded)")
    try:
        def red():
            status, body = portal.readyz(portal.web_urls["identity"])
            return status == 503 and body.get("checks", {}).get("worker", "ok") != "ok" and body
        body = eventually(red, timeout=2 * BUS_HEARTBEAT_SECONDS + 20, interval=0.5,
                          message="identity's /readyz stayed green with its broker stalled")
        red_at = timeline.mark("identity's /readyz red")
        timeline.figure("stall noticed by /readyz after", f"{red_at - stalled_at:.1f} s")
        timeline.figure("/readyz said", f"{body['checks']['worker']} ({portal.worker_not_ready('identity')})")
        assert body["checks"].get("database") == "ok", "only the worker is at fault"
    finally:
        portal.broker_proxy.restore()
    restored_at = timeline.mark("broker restored")
    eventually(lambda: portal.readyz(portal.web_urls["identity"])[0] == 200, timeout=60, interval=0.5,
               message="identity's /readyz stayed red after the broker came back")
    timeline.figure("/readyz green again after", f"{timeline.mark('identity ready') - restored_at:.1f} s")
    event = stamped(AGREMENT_GRANTED.build("100041", agrement_data("100041")), 90)
    publish(portal, event)
    handled_everywhere(portal, event)
