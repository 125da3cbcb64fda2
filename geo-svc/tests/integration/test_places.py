"""The places consumer on a SQLite database: agrément events in, place events out (through the outbox)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from geo.adapters.orm import metadata, places
from geo.communes.commands import load_reference
from geo.places.consumers import locate_place_of_practice
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED
from services.db import make_engine, make_session_factory
from services.inbox import handle_once
from services.outbox import OUTBOX

BASE = {name: None for name in AGREMENT_GRANTED.required}


@pytest.fixture
def session_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'geo.sqlite3'}")
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    assert load_reference(factory, ["28"]) == 363
    assert load_reference(factory, ["28"]) == 0, "loading twice adds nothing"
    return factory


def agrement_event(spec, address_line="8 rue Noël Ballay", postcode="28000", commune="28085", subject="280001"):
    return spec.build(subject, {**BASE, "pmi_number": subject, "address_line": address_line, "postcode": postcode,
                                "commune_insee": commune, **({"changed_fields": []} if spec is AGREMENT_MODIFIED
                                                             else {})})


def emitted(session_factory) -> list[dict]:
    with session_factory() as session:
        return [json.loads(p) for p in session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.position))
                .scalars()]


def test_a_granted_agrement_is_located_in_its_commune(session_factory):
    handle_once(session_factory, locate_place_of_practice, agrement_event(AGREMENT_GRANTED))
    [event] = emitted(session_factory)
    assert (event["type"], event["subject"]) == ("place.located", "280001")
    assert event["data"]["commune_name"] == "Chartres" and event["data"]["precision"] == "municipality"
    assert abs(event["data"]["latitude"] - 48.44) < 0.05 and abs(event["data"]["longitude"] - 1.49) < 0.05


def test_a_modification_that_keeps_the_address_emits_nothing_and_a_move_relocates(session_factory):
    handle_once(session_factory, locate_place_of_practice, agrement_event(AGREMENT_GRANTED))
    handle_once(session_factory, locate_place_of_practice, agrement_event(AGREMENT_MODIFIED))
    assert len(emitted(session_factory)) == 1
    handle_once(session_factory, locate_place_of_practice,
                agrement_event(AGREMENT_MODIFIED, "1 place de la Mairie", "28300", "28209"))
    events = emitted(session_factory)
    assert len(events) == 2 and events[-1]["data"]["commune_name"] == "Lèves"
    with session_factory() as session:
        assert session.execute(sa.select(places.c.commune_insee)).scalar_one() == "28209"


def test_a_commune_missing_from_the_reference_goes_to_review(session_factory):
    handle_once(session_factory, locate_place_of_practice, agrement_event(AGREMENT_GRANTED, commune="75056"))
    [event] = emitted(session_factory)
    assert event["type"] == "place.needs_review" and "inconnue" in event["data"]["reason"]
    with session_factory() as session:
        assert session.execute(sa.select(places.c.needs_review)).scalar_one() is True


def test_a_batch_locates_each_place_once_at_its_last_address(session_factory):
    """What the worker runs: the manifest's batch handler through the kernel's inbox."""
    import dataclasses

    from geo.service import MANIFEST
    from services.inbox import handle_batch

    events = [dataclasses.replace(event, sequence=number) for number, event in enumerate([
        agrement_event(AGREMENT_GRANTED, subject="280001"),
        agrement_event(AGREMENT_GRANTED, subject="280002", commune="75056", postcode="75001"),
        agrement_event(AGREMENT_MODIFIED, subject="280001", address_line="3 place des Épars"),
        agrement_event(AGREMENT_MODIFIED, subject="280001", address_line="3 place des Épars"),  # same address
    ], start=1)]
    assert handle_batch(session_factory, MANIFEST.subscriptions(container=None), events) == 4
    with session_factory() as session:
        rows = {row.place_id: row for row in session.execute(sa.select(places))}
    assert rows["280001"].address_line == "3 place des Épars" and rows["280001"].precision == "municipality"
    assert rows["280002"].needs_review  # Paris is not in the reference loaded for département 28
    assert [(e["type"], e["subject"]) for e in emitted(session_factory)] == [
        ("place.located", "280001"), ("place.needs_review", "280002")]


def test_communes_loaded_before_the_mairie_contacts_get_them_on_the_next_load(session_factory):
    from geo.adapters.orm import communes
    with session_factory() as session, session.begin():
        session.execute(communes.update().values(mairie_email=None, mairie_phone=None, mairie_address=None))
    assert load_reference(session_factory, ["28"]) == 0
    with session_factory() as session:
        phone = session.execute(sa.select(communes.c.mairie_phone).where(communes.c.insee_code == "28085")).scalar()
    assert phone == "02 37 23 40 00"
