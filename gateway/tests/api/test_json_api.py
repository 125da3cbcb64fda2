"""The versioned JSON API: fiche-svc's and geo-svc's answers passed through, refusals keeping their code."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

SEARCH = {"total": 1, "page": 1, "per_page": 20, "commune": {"insee": "28085", "name": "Chartres"},
          "fiches": [{"id": "f-101", "first_name": "Claire", "last_name": "Martin", "commune_name": "Chartres",
                      "postcode": "28000", "capacity_total": 4, "capacity_under_3": 2, "mam_name": None}]}


def _query(call) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(call.request.url).query).items()}


def test_fiches_search_passes_fiche_svc_json_through(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json=SEARCH)

    response = client.get("/api/v1/fiches?commune=28085&page=1")

    assert response.status_code == 200
    assert response.get_json() == SEARCH
    assert _query(downstream.calls[0]) == {"commune": "28085", "page": "1"}


def test_fiche_by_id_passes_through(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-101", json=SEARCH["fiches"][0])

    assert client.get("/api/v1/fiches/f-101").get_json() == SEARCH["fiches"][0]


def test_a_refusal_keeps_the_service_status_code_and_message(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/nope", status=404,
                   json={"error": {"code": "fiche_not_found", "message": "Fiche introuvable."}})

    response = client.get("/api/v1/fiches/nope")

    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "fiche_not_found", "message": "Fiche introuvable."}}


def test_fiches_search_needs_a_criterion(client, downstream):
    response = client.get("/api/v1/fiches")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "missing_query"
    assert len(downstream.calls) == 0


def test_communes_are_searched_in_the_portal_departement(client, downstream, urls):
    body = {"communes": [{"insee_code": "28085", "name": "Chartres", "departement_code": "28",
                          "postcodes": ["28000"], "latitude": 48.44, "longitude": 1.49}]}
    downstream.get(f"{urls['geo']}/api/communes", json=body)

    response = client.get("/api/v1/communes?q=char&limit=5")

    assert response.get_json() == body
    assert _query(downstream.calls[0]) == {"q": "char", "departement": "28", "limit": "5"}


def test_geo_svc_refusal_passes_through(client, downstream, urls):
    downstream.get(f"{urls['geo']}/api/communes", status=400, json={"error": {
        "code": "invalid_query", "message": "Saisissez au moins 2 caractères du nom ou du code postal."}})

    response = client.get("/api/v1/communes?q=c")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_query"


def test_a_service_down_gives_a_json_503(client, downstream, urls):
    downstream.get(f"{urls['geo']}/api/communes", body=requests.ConnectTimeout("timed out"))

    response = client.get("/api/v1/communes?q=char")

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert "temporairement indisponible" in response.get_json()["error"]["message"]


def test_unknown_api_route_answers_json(client):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["code"] == "not_found"
