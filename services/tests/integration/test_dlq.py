"""Dead letters on both ways of running: listed without being lost or reordered, shown whole, replayed (a service's
to its queue with a fresh count of attempts, an unroutable event to the exchange), purged; and `assmat dlq`."""
from __future__ import annotations

import json

import pytest

from services import cli, dlq
from services.bus import ServiceConsumer
from services.testing import eventually, running
from services.testing import sample_event as event

TYPES = ["agrement.granted"]



class Handler:
    """Fails for the subjects in `failing`; records the others."""

    def __init__(self, *failing: str):
        self.failing = set(failing)
        self.handled: list[str] = []
        self.calls: list[str] = []

    def __call__(self, events):
        for e in events:
            self.calls.append(e.subject)
            if e.subject in self.failing:
                raise ValueError(f"cannot handle {e.subject}")
        self.handled += [e.subject for e in events]


@pytest.fixture
def letters(backbone):
    """A bus whose `fiche` service dead-lettered p1, a text body and p2 (in that order), plus an unroutable event."""
    bus = backbone.bus()
    bus.declare("fiche", TYPES, [])
    bus.publish(event("p1"))
    with bus.connection() as conn:
        conn.Producer().publish(b"bonjour", exchange=bus.exchange, routing_key="agrement.granted",
                                content_type="text/plain", content_encoding="utf-8", declare=[bus.exchange])
    bus.publish(event("p2"))
    bus.publish(event("early", "geo.place_wanted"))
    handler = Handler("p1", "p2")
    consumer = ServiceConsumer(bus, "fiche", TYPES, handler, [], batch_size=1)
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 3, timeout=10)
    return bus


def test_listing_shows_each_dead_letter_and_loses_or_reorders_nothing(letters):
    bus = letters
    first = dlq.list_dead_letters(bus, ["fiche", "geo"])
    assert [(letter.source, letter.subject) for letter in first] == [
        ("fiche", "p1"), ("fiche", None), ("fiche", "p2"), ("unroutable", "early")]
    p1, text, _, early = first
    assert p1.event_type == "agrement.granted" and p1.error == "ValueError: cannot handle p1" and p1.when
    assert text.error.startswith("not a valid event") and text.body == "bonjour" and text.id
    assert early.event_type == "geo.place_wanted" and early.error.startswith("unroutable")
    again = dlq.list_dead_letters(bus, ["fiche", "geo"])
    assert [letter.id for letter in again] == [letter.id for letter in first]
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"], only="fiche", limit=2)] == [
        letter.id for letter in first[:2]]


def test_show_gives_the_whole_envelope(letters):
    p2 = dlq.list_dead_letters(letters, ["fiche"], only="fiche")[2]
    shown = dlq.show(letters, ["fiche"], p2.id)
    assert shown.envelope["data"] == {"n": "p2"} and shown.envelope["id"] == p2.id
    assert shown.headers["x-assmat-error"] == "ValueError: cannot handle p2"
    assert dlq.show(letters, ["fiche"], "no-such-id") is None
    assert [letter.subject for letter in dlq.list_dead_letters(letters, ["fiche"], only="fiche")] == [
        "p1", None, "p2"], "showing took nothing away"


def test_a_replayed_dead_letter_goes_back_to_its_service_with_its_attempts_reset(letters):
    bus = letters
    p1, text, p2, _ = dlq.list_dead_letters(bus, ["fiche"])
    outcome = dlq.replay(bus, ["fiche"], [p2.id, "no-such-id"])
    assert outcome.done == [p2.id] and outcome.missing == ["no-such-id"]
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"], only="fiche")] == [p1.id, text.id]
    # Still failing: with its attempts reset, it is retried once more before coming back.
    still_failing = Handler("p2")
    consumer = ServiceConsumer(bus, "fiche", TYPES, still_failing, [50])
    with running(consumer):
        eventually(lambda: consumer.dead_lettered == 1, timeout=10)
    assert still_failing.calls == ["p2", "p2"] and consumer.retried == 1
    # Fixed: replayed again, it is handled.
    dlq.replay(bus, ["fiche"], [p2.id])
    fixed = Handler()
    with running(ServiceConsumer(bus, "fiche", TYPES, fixed, [50])):
        eventually(lambda: fixed.handled == ["p2"], timeout=10)
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"], only="fiche")] == [p1.id, text.id]


def test_an_unroutable_event_is_replayed_to_the_exchange_once_its_consumer_exists(letters):
    bus = letters
    [early] = dlq.list_dead_letters(bus, ["fiche"], only="unroutable")
    assert dlq.replay(bus, ["fiche"], only="unroutable").done == [early.id]  # nobody yet: back where it was
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"], only="unroutable")] == [early.id]
    bus.declare("geo", ["geo.place_wanted"], [50])
    assert dlq.replay(bus, ["fiche", "geo"], [early.id]).done == [early.id]
    handler = Handler()
    with running(ServiceConsumer(bus, "geo", ["geo.place_wanted"], handler, [50])):
        eventually(lambda: handler.handled == ["early"], timeout=10)
    assert dlq.list_dead_letters(bus, ["fiche", "geo"], only="unroutable") == []


def test_purge_deletes_the_chosen_letters_or_all_of_a_source(letters):
    bus = letters
    p1, text, p2, early = dlq.list_dead_letters(bus, ["fiche"])
    assert dlq.purge(bus, ["fiche"], [text.id]).done == [text.id]
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"])] == [p1.id, p2.id, early.id]
    assert sorted(dlq.purge(bus, ["fiche"], only="fiche").done) == sorted([p1.id, p2.id])
    assert [letter.id for letter in dlq.list_dead_letters(bus, ["fiche"])] == [early.id]


def test_the_outbox_parked_rows_are_listed_through_the_hook(letters):
    parked = dlq.DeadLetter(id="row-7", source="outbox:fiche", queue="outbox", event_type="fiche.published",
                            subject="f1", error="refused by the broker", when=None, envelope=None)
    listed = dlq.list_dead_letters(letters, ["fiche"], parked_outbox_rows=lambda: [parked])
    assert listed[-1] is parked and len(listed) == 5


def test_assmat_dlq_lists_shows_replays_and_purges(letters, backbone, monkeypatch, capsys, tmp_path):
    """On the embedded bus of the data folder by default; on BROKER_URL/BUS_NAMESPACE when they are set."""
    monkeypatch.setenv("BUS_NAMESPACE", backbone.namespace)
    if backbone.amqp:
        monkeypatch.setenv("BROKER_URL", backbone.broker_url)
        data_dir = tmp_path / "unused"
    else:
        monkeypatch.delenv("BROKER_URL", raising=False)
        data_dir = tmp_path  # the fixture's bus file is tmp_path / "bus.sqlite3"
    assert cli.main(["--data-dir", str(data_dir), "dlq", "list"]) == 0
    listed, warnings = capsys.readouterr()
    lines = listed.splitlines()
    assert lines[0].split() == ["ID", "SOURCE", "TYPE", "SUJET", "QUAND", "ERREUR"]
    assert len(lines) == 6 and lines[-1] == "4 lettre(s) morte(s)."
    assert "ValueError: cannot handle p1" in lines[1] and "aucune file" in warnings
    p1_id = lines[1].split()[0]

    assert cli.main(["--data-dir", str(data_dir), "dlq", "show", p1_id]) == 0
    assert json.loads(capsys.readouterr().out)["envelope"]["subject"] == "p1"

    assert cli.main(["--data-dir", str(data_dir), "dlq", "replay", p1_id, "nope"]) == 1
    out, err = capsys.readouterr()
    assert "1 lettre(s) morte(s) rejouée(s)." in out and "introuvable : nope" in err

    assert cli.main(["--data-dir", str(data_dir), "dlq", "purge", "--all", "--service", "fiche"]) == 0
    assert "2 lettre(s) morte(s) supprimée(s)." in capsys.readouterr().out
    assert cli.main(["--data-dir", str(data_dir), "dlq", "list", "--service", "fiche"]) == 0
    assert capsys.readouterr().out == "Aucune lettre morte.\n"
