import pytest

from geo import create_app
from geo.adapters.orm import metadata
from geo.bootstrap import bootstrap
from geo.communes.commands import load_reference
from geo.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("geo")
    settings = Settings(database_url=f"sqlite:///{folder / 'geo.sqlite3'}",
                        broker_url=f"sqlitebus:///{folder / 'bus.sqlite3'}")
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    load_reference(container.session_factory, ["28"])
    return create_app(settings).test_client()


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [commune["name"] for commune in response.get_json()["communes"]]


def test_autocomplete_ignores_accents_case_and_puts_big_communes_first(client):
    assert names(client.get("/api/communes?q=char"))[0] == "Chartres"
    assert names(client.get("/api/communes?q=LEVES"))[0] == "Lèves"
    assert "Saint-Prest" in names(client.get("/api/communes?q=st prest"))


def test_a_postcode_finds_the_communes_it_serves(client):
    found = names(client.get("/api/communes?q=28300"))
    assert "Lèves" in found and "Chartres" not in found


@pytest.mark.parametrize("query,code", [("q=c", "invalid_query"), ("q=chartres&limit=x", "invalid_limit")])
def test_bad_queries_are_400_with_a_code(client, query, code):
    response = client.get(f"/api/communes?{query}")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_one_commune_and_unknown_ones(client):
    assert client.get("/api/communes/28085").get_json()["postcodes"] == ["28000"]
    assert client.get("/api/communes/28085").get_json()["mairie"] == {
        "email": "contact@ville-chartres.fr", "phone": "02 37 23 40 00", "address": "1 place des Halles\n28000 Chartres"}
    assert client.get("/api/communes/99999").status_code == 404
    assert client.get("/api/places/280001").get_json()["error"]["code"] == "place_not_found"
