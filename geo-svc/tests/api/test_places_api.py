"""GET /api/places/<place_id>: where a place of practice was located, never its street address."""
import pytest

from geo import create_app
from geo.adapters.orm import metadata
from geo.bootstrap import bootstrap
from geo.communes.commands import load_reference
from geo.places.consumers import locate_place_of_practice
from geo.settings import Settings
from services.catalogue.agrement import AGREMENT_GRANTED
from services.inbox import handle_once

BASE = {name: None for name in AGREMENT_GRANTED.required}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("geo")
    settings = Settings(database_url=f"sqlite:///{folder / 'geo.sqlite3'}",
                        broker_url=f"sqlitebus:///{folder / 'bus.sqlite3'}")
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    load_reference(container.session_factory, ["28"])
    for subject, commune in (("280001", "28085"), ("280002", "75056")):  # Paris is not in the loaded reference
        handle_once(container.session_factory, locate_place_of_practice, AGREMENT_GRANTED.build(subject, {
            **BASE, "pmi_number": subject, "address_line": "8 rue Noël Ballay", "postcode": "28000",
            "commune_insee": commune}))
    return create_app(settings).test_client()


def test_a_located_place_gives_its_commune_point_and_precision_without_the_street(client):
    response = client.get("/api/places/280001")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["commune_insee"], body["precision"], body["needs_review"]) == ("28085", "municipality", False)
    assert abs(body["latitude"] - 48.44) < 0.05 and abs(body["longitude"] - 1.49) < 0.05
    assert "address_line" not in body


def test_a_place_in_an_unknown_commune_is_kept_for_review_without_coordinates(client):
    body = client.get("/api/places/280002").get_json()
    assert (body["needs_review"], body["latitude"], body["precision"]) == (True, None, None)
