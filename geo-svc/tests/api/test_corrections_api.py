"""The correction and review endpoints: who may call them, what they answer, bad input refused field by field."""
import pytest
import responses

from geo import create_app
from geo.adapters.orm import metadata
from geo.addresses.commands import SAMPLE, load_addresses, read_extract
from geo.bootstrap import bootstrap
from geo.communes.commands import load_reference
from geo.places.consumers import locate_places_of_practice
from geo.settings import Settings
from services.auth import generate_signing_key, issue_token, public_jwks
from services.catalogue.agrement import AGREMENT_GRANTED
from services.db import UnitOfWork

JWKS = "http://identity.test/.well-known/jwks.json"
BASE = {name: None for name in AGREMENT_GRANTED.required}
LINK = "https://adresse.data.gouv.fr/map?lng=1.48390&lat=48.44630&z=19"


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'geo.sqlite3'}",
                        broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", identity_jwks_url=JWKS,
                        geocoder="addresses", tile_url="http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png")
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    load_reference(container.session_factory, ["28"])
    load_addresses(container.session_factory, read_extract(SAMPLE))
    with UnitOfWork(container.session_factory) as uow:
        locate_places_of_practice(uow, [AGREMENT_GRANTED.build(subject, {
            **BASE, "pmi_number": subject, "address_line": line, "postcode": "28000", "commune_insee": "28085"})
            for subject, line in (("280001", "8 rue Noël Ballay"), ("280002", "9 chemin Perdu"))],
            container.geocoder, settings)
        uow.commit()
    return create_app(container=container).test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def bearer(key, role="assmat", pmi_number="280001", subject="acc-1"):
    token = issue_token(key, subject=subject, role=role, issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60, extra={"pmi_number": pmi_number} if pmi_number else None)
    return {"Authorization": f"Bearer {token}"}


def test_from_request_to_acceptance(client, key):
    mine = client.get("/api/geolocation/me", headers=bearer(key)).get_json()
    assert mine["place"]["precision"] == "housenumber" and mine["corrections"] == []
    asked = client.post("/api/geolocation/me/corrections", json={"link": LINK, "comment": "portail bleu"},
                        headers=bearer(key))
    assert asked.status_code == 201, asked.get_json()
    support = bearer(key, role="support", pmi_number=None, subject="staff-9")
    [pending] = client.get("/api/corrections", headers=support).get_json()["corrections"]
    assert pending["correction_id"] == asked.get_json()["correction_id"] and pending["comment"] == "portail bleu"
    one = client.get(f"/api/corrections/{pending['correction_id']}", headers=support).get_json()
    assert one["place"]["latitude"] is not None and 0 < one["distance_from_current_m"] < 500
    assert one["tile_url"].startswith("http://127.0.0.1")
    # The nearest address point of the loaded extract, for support to judge the proposal.
    assert one["proposal_address"] == {"label": "1 Avenue Jehan de Beauce 28000 Chartres", "type": "housenumber",
                                       "source": "addresses"}
    decided = client.post(f"/api/corrections/{pending['correction_id']}/decision", json={"decision": "accept"},
                          headers=support)
    assert decided.get_json() == {"correction_id": pending["correction_id"], "status": "accepted"}
    mine = client.get("/api/geolocation/me", headers=bearer(key)).get_json()
    assert (mine["place"]["latitude"], mine["place"]["corrected"]) == (48.4463, True)
    assert mine["corrections"][0]["status"] == "accepted"


@pytest.mark.parametrize("body,code", [
    ({"link": "https://www.google.com/maps/@48.44,1.48,18z"}, "other_site"),
    ({"link": "https://adresse.data.gouv.fr/map?lng=2.3522&lat=48.8566&z=18"}, "far_from_commune"),
    ({"link": "https://adresse.data.gouv.fr/map?lng=-0.1278&lat=51.5074&z=18"}, "outside_france"),
    ({"link": "https://adresse.data.gouv.fr/map?lng=NaN&lat=48.44&z=18"}, "invalid_coordinates"),
    ({"link": 42}, "invalid_link"),
    ({}, "link_missing"),
    ({"link": LINK, "comment": "x" * 501}, "comment_too_long"),
])
def test_bad_requests_are_refused_with_the_field(client, key, body, code):
    response = client.post("/api/geolocation/me/corrections", json=body, headers=bearer(key))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_a_body_that_is_not_an_object_is_refused(client, key):
    response = client.post("/api/geolocation/me/corrections", data="[1]", content_type="application/json",
                           headers=bearer(key))
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_body")


def test_roles_are_checked(client, key):
    assert client.get("/api/corrections", headers=bearer(key)).status_code == 403
    assert client.get("/api/review/places", headers=bearer(key, role="pmi_agent", pmi_number=None)).status_code \
        == 403
    assert client.get("/api/geolocation/me").status_code == 401
    assert client.get("/api/geolocation/me", headers=bearer(key, pmi_number="289999")).status_code == 404


def test_support_sees_the_review_queue_and_can_keep_a_weak_result(client, key):
    support = bearer(key, role="support", pmi_number=None)
    [weak] = client.get("/api/review/places", headers=support).get_json()["places"]
    assert (weak["place_id"], weak["precision"]) == ("280002", "municipality")
    assert client.post("/api/review/places/280002/confirm", headers=support).status_code == 200
    assert client.get("/api/review/places", headers=support).get_json()["places"] == []
    assert client.post("/api/review/places/999999/confirm", headers=support).status_code == 404


@pytest.mark.parametrize("query,status", [("lat=48.44482&lon=1.48439", 200), ("lat=abc&lon=1", 400),
                                          ("lat=nan&lon=1", 400), ("lat=95&lon=1", 400), ("lon=1", 400)])
def test_reverse_geocoding_for_support(client, key, query, status):
    response = client.get(f"/api/reverse?{query}", headers=bearer(key, role="support", pmi_number=None))
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["label"].startswith("1 Rue Noël Ballay")


def test_deciding_twice_or_an_unknown_request(client, key):
    support = bearer(key, role="support", pmi_number=None)
    correction_id = client.post("/api/geolocation/me/corrections", json={"link": LINK},
                                headers=bearer(key)).get_json()["correction_id"]
    bad = client.post(f"/api/corrections/{correction_id}/decision", json={"decision": "maybe"}, headers=support)
    assert bad.get_json()["error"]["code"] == "invalid_decision"
    assert client.post(f"/api/corrections/{correction_id}/decision", json={"decision": "refuse", "reason": "non"},
                       headers=support).status_code == 200
    again = client.post(f"/api/corrections/{correction_id}/decision", json={"decision": "accept"}, headers=support)
    assert again.status_code == 409
    assert client.get("/api/corrections/nope", headers=support).status_code == 404
    assert client.get("/api/corrections?status=weird", headers=support).status_code == 400
