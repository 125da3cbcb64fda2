"""Places geocoded on agrément events through each adapter; weak results to review; the address API down leaves the
batch to the kernel's retries; an accepted correction wins over later geocoding of the same address."""
from __future__ import annotations

import dataclasses
import json

import pytest
import sqlalchemy as sa

from geo.adapters.fake_ban import from_extract_rows
from geo.adapters.geocoders import AddressTableGeocoder, BanGeocoder, CommuneGeocoder, FallbackGeocoder
from geo.adapters.orm import metadata, places
from geo.addresses.commands import SAMPLE, count_addresses, load_addresses, parse_rows, read_extract
from geo.communes.commands import load_reference
from geo.corrections.commands import decide_correction, request_correction
from geo.adapters.geocoders import GeocoderUnavailable
from geo.geocoding.domain import distance_m
from geo.places.consumers import locate_places_of_practice
from geo.settings import Settings
from services.catalogue.agrement import AGREMENT_GRANTED, AGREMENT_MODIFIED
from services.db import UnitOfWork, make_engine, make_session_factory
from services.outbox import OUTBOX

BASE = {name: None for name in AGREMENT_GRANTED.required}
LINK = "https://adresse.data.gouv.fr/map?lng=1.48390&lat=48.44630&z=19"


@pytest.fixture
def factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'geo.sqlite3'}")
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    load_reference(factory, ["28"])
    assert load_addresses(factory, read_extract(SAMPLE)) == 87
    load_addresses(factory, read_extract(SAMPLE))
    assert count_addresses(factory) == 87, "loading again updates, never duplicates"
    return factory


def settings(**overrides) -> Settings:
    return Settings(database_url="sqlite://", **overrides)


def granted(subject="280001", line="8 rue Noël Ballay", postcode="28000", commune="28085", spec=AGREMENT_GRANTED):
    return spec.build(subject, {**BASE, "pmi_number": subject, "address_line": line, "postcode": postcode,
                                "commune_insee": commune, **({"changed_fields": []} if spec is AGREMENT_MODIFIED
                                                             else {})})


def run(factory, geocoder, events, config=None):
    with UnitOfWork(factory) as uow:
        locate_places_of_practice(uow, events, geocoder, config or settings())
        uow.commit()


def emitted(factory) -> list[dict]:
    with factory() as session:
        return [json.loads(p) for p in session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.position))
                .scalars()]


def place(factory, place_id="280001"):
    with factory() as session:
        return session.execute(sa.select(places).where(places.c.place_id == place_id)).mappings().first()


def test_the_address_table_locates_to_the_house_number_and_blurs_the_public_pin(factory):
    geocoder = FallbackGeocoder(AddressTableGeocoder(factory), CommuneGeocoder(factory))
    run(factory, geocoder, [granted(), granted("280002", "Le Bourg", "28300", "28209"),
                            granted("280003", "12 impasse Inconnue", "28000", "28085")])
    events = {(e["type"], e["subject"]): e["data"] for e in emitted(factory)}
    home = events[("place.located", "280001")]
    assert (home["precision"], home["source"], home["needs_review"]) == ("housenumber", "addresses", False)
    assert home["public_precision"] == "blurred"
    assert 10 < distance_m(home["latitude"], home["longitude"], home["public_latitude"],
                           home["public_longitude"]) < 250
    assert ("place.needs_review", "280001") not in events
    # A lieu-dit known only as a street point, and an address the table lacks (the commune's point): review.
    assert events[("place.located", "280002")]["precision"] == "street"
    assert "voie" in events[("place.needs_review", "280002")]["reason"]
    assert events[("place.located", "280003")]["precision"] == "municipality"
    assert events[("place.needs_review", "280003")]["reason"] == "localisée seulement à la commune"
    assert place(factory, "280003")["needs_review"] is True


def test_the_address_setting_publishes_the_point_itself(factory):
    run(factory, AddressTableGeocoder(factory), [granted()], settings(public_pin="address"))
    [event] = emitted(factory)
    data = event["data"]
    assert (data["public_latitude"], data["public_longitude"], data["public_precision"]) == (
        round(data["latitude"], 6), round(data["longitude"], 6), "address")


def test_the_address_api_down_writes_nothing_and_the_previous_pin_stays(factory):
    fake = from_extract_rows(list(read_extract(SAMPLE)))
    server, url = fake.serve()
    try:
        ban = FallbackGeocoder(BanGeocoder(url, retries=1, backoff=0, rate=0), CommuneGeocoder(factory))
        run(factory, ban, [granted()])
        before = place(factory)
        assert before["source"] == "ban" and before["precision"] == "housenumber"
        fake.behaviour.fail_statuses = [503] * 5
        with pytest.raises(GeocoderUnavailable):
            run(factory, ban, [granted(line="2 rue Noël Ballay", spec=AGREMENT_MODIFIED)])
        assert place(factory) == before and len(emitted(factory)) == 1
        fake.behaviour.fail_statuses = []
        run(factory, ban, [granted(line="2 rue Noël Ballay", spec=AGREMENT_MODIFIED)])   # the kernel's retry
        assert place(factory)["address_line"] == "2 rue Noël Ballay" and len(emitted(factory)) == 2
    finally:
        server.shutdown()


def test_an_accepted_correction_wins_over_later_geocoding_of_the_same_address(factory):
    geocoder = AddressTableGeocoder(factory)
    config = settings(public_pin="address")
    run(factory, geocoder, [granted()], config)
    correction = request_correction(factory, config, "280001", "acc-1", LINK, "Le portail est derrière l'église")
    assert correction["status"] == "pending"
    assert decide_correction(factory, config, correction["correction_id"], "staff-1", "accept")["status"] == \
        "accepted"
    types = [e["type"] for e in emitted(factory)]
    assert types == ["place.located", "correction.requested", "place.located", "correction.decided"]
    moved = emitted(factory)[2]["data"]
    assert (moved["latitude"], moved["longitude"], moved["source"], moved["corrected"]) == (
        48.4463, 1.4839, "correction", True)
    # The same address comes again (spelt differently): the correction stays.
    handled = dataclasses.replace(granted(line="8 RUE NOEL BALLAY", spec=AGREMENT_MODIFIED))
    run(factory, geocoder, [handled], config)
    assert (place(factory)["latitude"], place(factory)["source"]) == (48.4463, "correction")
    # She moves: the new address is geocoded afresh and the correction is dropped.
    run(factory, geocoder, [granted(line="5 place des Épars", spec=AGREMENT_MODIFIED)], config)
    after = place(factory)
    assert after["source"] == "addresses" and after["corrected_address"] is None
    run(factory, geocoder, [granted(spec=AGREMENT_MODIFIED)], config)
    assert place(factory)["source"] == "addresses", "back at the old address: the old correction is gone"


def test_a_refusal_needs_a_reason_and_leaves_the_pin(factory):
    config = settings()
    run(factory, AddressTableGeocoder(factory), [granted()], config)
    before = place(factory)
    correction = request_correction(factory, config, "280001", "acc-1", LINK)
    from geo.corrections.commands import CorrectionRefused
    with pytest.raises(CorrectionRefused) as refused:
        decide_correction(factory, config, correction["correction_id"], "staff-1", "refuse", "  ")
    assert refused.value.code == "reason_required"
    decide_correction(factory, config, correction["correction_id"], "staff-1", "refuse", "Le point est sur la route")
    assert place(factory) == before
    decided = emitted(factory)[-1]
    assert decided["type"] == "correction.decided"
    assert (decided["data"]["decision"], decided["data"]["reason"], decided["data"]["account_id"]) == (
        "refused", "Le point est sur la route", "acc-1")
    with pytest.raises(CorrectionRefused) as again:
        decide_correction(factory, config, correction["correction_id"], "staff-1", "accept")
    assert again.value.status == 409


def test_an_extract_without_the_ban_columns_is_refused():
    import io
    from geo.addresses.commands import InvalidExtract
    with pytest.raises(InvalidExtract):
        list(parse_rows(io.StringIO("a;b;c\n1;2;3\n")))


@pytest.mark.parametrize("batch_min,paths", [(0, ["/search/", "/search/"]), (2, ["/search/csv/"])])
def test_the_worker_wiring_geocodes_through_the_ban_one_call_a_place_or_one_csv_a_batch(tmp_path, batch_min, paths):
    """What the worker runs: the manifest's batch handler, built from the container (GEO_GEOCODER=ban)."""
    from geo.bootstrap import bootstrap
    from geo.service import MANIFEST
    from services.inbox import handle_batch

    fake = from_extract_rows(list(read_extract(SAMPLE)))
    server, url = fake.serve()
    try:
        container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'w.sqlite3'}",
                                       broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", geocoder="ban",
                                       ban_url=url, ban_batch_min=batch_min, public_pin="address"))
        metadata.create_all(container.engine)
        load_reference(container.session_factory, ["28"])
        events = [dataclasses.replace(event, sequence=n) for n, event in enumerate(
            [granted(), granted("280002", "3 bis rue Noël Ballay")], start=1)]
        assert handle_batch(container.session_factory, MANIFEST.subscriptions(container), events) == 2
        assert fake.behaviour.requests == paths
        located = {e["subject"]: e["data"] for e in emitted(container.session_factory)}
        assert located["280001"]["source"] == "ban" and located["280001"]["precision"] == "housenumber"
        assert located["280002"]["source"] == "ban"
    finally:
        server.shutdown()


def test_a_request_made_before_she_moved_cannot_be_accepted_for_the_new_address(factory):
    from geo.corrections.commands import CorrectionRefused
    config = settings()
    geocoder = AddressTableGeocoder(factory)
    run(factory, geocoder, [granted()], config)
    correction = request_correction(factory, config, "280001", "acc-1", LINK)
    run(factory, geocoder, [granted(line="5 place des Épars", spec=AGREMENT_MODIFIED)], config)
    with pytest.raises(CorrectionRefused) as refused:
        decide_correction(factory, config, correction["correction_id"], "staff-1", "accept")
    assert (refused.value.status, refused.value.code) == (409, "address_changed")
    assert place(factory)["source"] == "addresses"
    decide_correction(factory, config, correction["correction_id"], "staff-1", "refuse", "Vous avez déménagé")
