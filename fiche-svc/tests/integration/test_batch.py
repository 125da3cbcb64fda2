"""The worker's batch projection (project_batch) against the event-by-event handlers it replaces, on random inputs.

Random histories of granted / modified / withdrawn / place.located events for a few assmats, delivered in random
orders (duplicates included) and cut into random batches, go through the kernel's inbox both ways: one event per
transaction with the single handlers, and whole batches with the manifest's Batch. Both databases must then hold the
same fiches, places and communes, and both outboxes the same fiche events in the same order (fiche ids, random, are
compared through the PMI number they stand for). On SQLite and on PostgreSQL.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random

import pytest
import sqlalchemy as sa

from fiche.projection.consumers import HANDLERS, project_batch
from fiche.service import MANIFEST
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED, AGREMENT_WITHDRAWN
from services.catalogue.geo import PLACE_LOCATED
from services.db import kernel_tables, make_engine, make_session_factory, upgrade
from services.events import Event, InvalidEvent
from services.inbox import Subscription, handle_batch

T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=1)
TODAY = dt.date.today()
NUMBERS = ("100001", "100002", "100003", "100004")
# Chartres and Lucé (in the reference), and an INSEE code the reference does not know (named only by geo-svc).
COMMUNES = (("28085", "28000", "Chartres"), ("28218", "28110", "Lucé"), ("28999", "28999", "Nouvelle-Commune"))
_TABLES = ("fiches", "places", "communes", "outbox", "inbox", "projection_sequences")


def _agrement_data(rng: random.Random, number: str) -> dict:
    insee_code, postcode, _ = rng.choice(COMMUNES)
    return {
        "pmi_number": number, "civility": rng.choice(["Mme", "M.", None]), "first_name": "Marie",
        "last_name": rng.choice(["Lefèvre", "Durand", "Lefèvre-Durand"]), "birth_name": None,
        "birth_date": "1979-05-17", "email": rng.choice(["marie@example.org", None]),
        "phone": rng.choice(["02 37 00 00 01", "06 00 00 00 02"]), "address_line": "12 rue des Lilas",
        "address_complement": None, "postcode": postcode, "commune_insee": insee_code,
        "circonscription": rng.choice(["Chartres Nord", "Chartres Sud"]),
        "capacity_total": rng.choice([3, 4]), "capacity_under_3": rng.choice([2, 3]),
        "validity_start": rng.choice(["2022-01-01", (TODAY + dt.timedelta(days=30)).isoformat()]),
        "validity_end": rng.choice([(TODAY + dt.timedelta(days=700)).isoformat(),
                                    (TODAY - dt.timedelta(days=3)).isoformat()]),
        "status": rng.choice(["active", "active", "temporary_stop", "suspended", "strange"]),
        "publication_opposed": rng.random() < 0.2, "place_type": rng.choice(["home", "mam"]), "mam_id": None,
        "mam_name": rng.choice(["Les Lutins", None]),
    }


def _place_data(rng: random.Random, number: str) -> dict:
    insee_code, postcode, name = rng.choice(COMMUNES)
    return {"place_id": number, "commune_insee": insee_code, "commune_name": name, "postcode": postcode,
            "latitude": rng.choice([48.443551, 48.4461]), "longitude": rng.choice([1.488282, 1.4792]),
            "precision": rng.choice(["municipality", "housenumber"]), "score": 0.5}


def random_history(rng: random.Random) -> list[Event]:
    """Events as their producers record them: per assmat a grant, then modifications, withdrawals and locations,
    each later than the one before (occurred_at), with the outbox's sequence per producer."""
    history: list[Event] = []
    sequence = {"agrement": 0, "geo": 0}
    moment = 0
    for number in rng.sample(NUMBERS, rng.randint(1, len(NUMBERS))):
        steps = ["granted"] + rng.choices(["modified", "withdrawn", "place", "place"], k=rng.randint(0, 6))
        for step in steps:
            moment += rng.choice([0, 1, 60])  # same-second events too: the handlers apply an equal time
            if step == "place":
                event = PLACE_LOCATED.build(number, _place_data(rng, number))
                producer = "geo"
            else:
                spec = {"granted": AGREMENT_GRANTED, "modified": AGREMENT_MODIFIED,
                        "withdrawn": AGREMENT_WITHDRAWN}[step]
                data = _agrement_data(rng, number)
                if step == "withdrawn":
                    data["status"] = rng.choice(["withdrawn", "suspended", "active"])
                if step == "modified":
                    data["changed_fields"] = ["last_name"]
                event = spec.build(number, data)
                producer = "agrement"
            sequence[producer] += 1
            history.append(dataclasses.replace(event, occurred_at=(T0 + dt.timedelta(seconds=moment)).isoformat(),
                                               sequence=sequence[producer]))
    return history


def random_delivery(rng: random.Random, history: list[Event]) -> list[Event]:
    """The history delivered in any order, some events twice; without sequences at times (events relayed before
    the outbox numbered them), so that the handlers' own occurred_at comparison decides."""
    delivered = list(history) + rng.sample(history, rng.randint(0, len(history) // 2))
    rng.shuffle(delivered)
    if rng.random() < 0.3:
        delivered = [dataclasses.replace(event, sequence=None) for event in delivered]
    return delivered


def random_batches(rng: random.Random, events: list[Event]) -> list[list[Event]]:
    batches, start = [], 0
    while start < len(events):
        size = rng.randint(1, 12)
        batches.append(events[start:start + size])
        start += size
    return batches


class Store:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)

    def clear(self) -> None:
        with self.engine.begin() as connection:
            for table in _TABLES:
                connection.execute(sa.text(f"DELETE FROM {table}"))

    def state(self) -> dict:
        """Everything the projection wrote, fiche ids replaced by the PMI number they stand for."""
        outbox, _ = kernel_tables(sa.MetaData())
        with self.engine.connect() as connection:
            fiches = [dict(row) for row in connection.execute(sa.text("SELECT * FROM fiches")).mappings()]
            names = {row["fiche_id"]: row["pmi_number"] for row in fiches}
            events = []
            for payload in connection.execute(sa.select(outbox.c.payload).order_by(outbox.c.position)).scalars():
                event = Event.from_dict(json.loads(payload))
                data = dict(event.data, fiche_id=names[event.data["fiche_id"]])
                events.append((event.type, names[event.subject], data))
            tables = {table: [dict(row) for row in connection.execute(
                sa.text(f"SELECT * FROM {table} ORDER BY {key}")).mappings()]
                for table, key in (("places", "place_id"), ("communes", "insee_code"))}
        for row in fiches:
            del row["fiche_id"]
        return {"fiches": sorted(fiches, key=lambda row: row["pmi_number"]), "events": events, **tables}


def one_at_a_time(store: Store, events: list[Event]) -> None:
    for event in events:
        handle_batch(store.session_factory, {event.type: Subscription(HANDLERS[event.type], ordered=True)},
                     [event])


def in_batches(store: Store, batches: list[list[Event]]) -> None:
    subscriptions = MANIFEST.subscriptions(None)
    for batch in batches:
        handle_batch(store.session_factory, subscriptions, batch)


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request, tmp_path):
    urls = []
    for name in ("single", "batch"):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        else:
            url = request.getfixturevalue("real_servers").database(f"fiche_{name}")
        upgrade(url, "fiche:migrations")
        urls.append(url)
    pair = [Store(url) for url in urls]
    yield pair
    for store in pair:
        store.engine.dispose()


def test_the_manifest_projects_every_type_through_one_batch_handler():
    subscriptions = MANIFEST.subscriptions(None)
    assert {subscriptions[event_type].handler for event_type in HANDLERS} == {project_batch}
    assert all(subscriptions[event_type].batch and subscriptions[event_type].ordered for event_type in HANDLERS)


def test_batches_give_the_fiches_and_events_of_one_event_at_a_time(stores):
    single, batched = stores
    announced = set()
    for seed in range(40):
        rng = random.Random(seed)
        delivered = random_delivery(rng, random_history(rng))
        for store in stores:
            store.clear()
        one_at_a_time(single, delivered)
        in_batches(batched, random_batches(rng, delivered))
        expected = single.state()
        assert batched.state() == expected, f"seed {seed}"
        announced |= {event_type for event_type, _, _ in expected["events"]}
    # The inputs did exercise every announcement.
    assert announced == {"fiche.published", "fiche.updated", "fiche.unpublished"}


def test_a_whole_batch_in_one_call_as_well(stores):
    """Every event of a delivery in one batch: the same state as event after event (many per subject)."""
    single, batched = stores
    for seed in range(100, 110):
        rng = random.Random(seed)
        delivered = random_delivery(rng, random_history(rng))
        for store in stores:
            store.clear()
        one_at_a_time(single, delivered)
        in_batches(batched, [delivered])
        assert batched.state() == single.state(), f"seed {seed}"


def test_an_invalid_event_fails_its_batch_and_nothing_is_written(stores):
    _, batched = stores
    rng = random.Random(7)
    public = {"status": "active", "publication_opposed": False, "validity_start": "2022-01-01",
              "validity_end": (TODAY + dt.timedelta(days=700)).isoformat()}
    good = AGREMENT_GRANTED.build("100001", dict(_agrement_data(rng, "100001"), **public))
    broken = AGREMENT_GRANTED.build("100002", dict(_agrement_data(rng, "100002"), postcode="?"))
    with pytest.raises(InvalidEvent):
        in_batches(batched, [[good, broken]])
    assert batched.state() == {"fiches": [], "events": [], "places": [], "communes": []}
    in_batches(batched, [[good]])  # the kernel then replays the batch one event at a time: the good one goes in
    assert [event_type for event_type, _, _ in batched.state()["events"]] == ["fiche.published"]
