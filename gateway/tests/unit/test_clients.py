"""The shared HTTP helper under every client: headers forwarded, timeouts, refusals and outages translated."""
from __future__ import annotations

import pytest
import requests

from gateway.clients import TIMEOUT, Clients, DownstreamError, ServiceUnavailable
from services import correlation


@pytest.fixture
def clients(urls):
    class _Settings:
        identity_url, agrement_url, fiche_url = urls["identity"], urls["agrement"], urls["fiche"]
        geo_url, notify_url = urls["geo"], urls["notify"] + "/"
    return Clients.build(_Settings())


def test_bearer_token_correlation_id_and_timeouts_are_sent(clients, downstream, urls):
    downstream.get(f"{urls['agrement']}/api/agrements/me", json={"pmi_number": "280001"})

    with correlation.bound("corr-1"):
        assert clients.agrement.my_agrement("tok") == {"pmi_number": "280001"}

    request = downstream.calls[0].request
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.headers["X-Correlation-ID"] == "corr-1"
    assert request.req_kwargs["timeout"] == TIMEOUT == (2.0, 10.0)


def test_a_refusal_carries_the_service_code_and_message(clients, downstream, urls):
    downstream.post(f"{urls['identity']}/api/sessions", status=403,
                    json={"error": {"code": "email_not_confirmed", "message": "Adresse non confirmée."}})

    with pytest.raises(DownstreamError) as caught:
        clients.identity.login("280001", "secret")

    assert (caught.value.status, caught.value.code, caught.value.message) == (403, "email_not_confirmed",
                                                                               "Adresse non confirmée.")
    assert caught.value.service == "identity"


def test_a_refusal_without_json_body_still_gets_a_code_and_a_french_message(clients, downstream, urls):
    downstream.get(f"{urls['notify']}/sink/m-9", status=404, body="Not Found")

    with pytest.raises(DownstreamError) as caught:
        clients.notify.sink_page("m-9")

    assert (caught.value.code, caught.value.message) == ("http_404", "Ressource introuvable.")


@pytest.mark.parametrize("answer", [{"status": 500, "json": {"error": {"code": "x", "message": "x"}}},
                                    {"status": 502, "body": "Bad Gateway"},
                                    {"body": requests.ConnectionError("refused")},
                                    {"body": requests.ReadTimeout("slow")},
                                    {"status": 200, "body": "<html>not json</html>"}])
def test_outages_become_service_unavailable(clients, downstream, urls, answer):
    downstream.get(f"{urls['geo']}/api/communes", **answer)

    with pytest.raises(ServiceUnavailable) as caught:
        clients.geo.search_communes("char", "28")

    assert caught.value.status == 503 and caught.value.service == "geo-svc"


def test_ids_from_the_browser_cannot_reach_another_path(clients, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/..%2Fadmin", json={"id": "x"})

    clients.fiche.get("../admin")

    assert downstream.calls[0].request.url == f"{urls['fiche']}/api/fiches/..%2Fadmin"


def test_empty_parameters_are_not_sent(clients, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={"total": 0})

    clients.fiche.search(q="Chartres")

    assert downstream.calls[0].request.url == f"{urls['fiche']}/api/fiches?q=Chartres"
