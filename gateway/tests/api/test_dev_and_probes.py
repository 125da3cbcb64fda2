"""The local mail sink read through the gateway, and the gateway's probes."""
from __future__ import annotations

import requests

SINK_HTML = ('<html><body><h1>Courriels</h1><ul><li><a href="/sink/m-1">Activez votre compte</a></li>'
             '<li><a href=\'/sink/m-2\'>Autre</a></li></ul></body></html>')


def test_dev_mails_is_not_found_outside_local_runs(make_app, downstream, urls):
    downstream.get(f"{urls['notify']}/sink", body=SINK_HTML, content_type="text/html")
    client = make_app("production").test_client()

    for path in ("/dev/mails", "/dev/mails/m-1"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Page introuvable" in response.get_data(as_text=True)
    assert len(downstream.calls) == 0


def test_dev_mails_shows_the_sink_with_its_links_under_dev_mails(client, downstream, urls):
    downstream.get(f"{urls['notify']}/sink", body=SINK_HTML, content_type="text/html; charset=utf-8")

    response = client.get("/dev/mails")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'href="/dev/mails/m-1"' in html and "href='/dev/mails/m-2'" in html
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_dev_mails_shows_one_message(client, downstream, urls):
    downstream.get(f"{urls['notify']}/sink/m-1", body="<p>Bonjour</p>", content_type="text/html")
    assert client.get("/dev/mails/m-1").get_data(as_text=True) == "<p>Bonjour</p>"


def test_dev_mails_refuses_to_climb_out_of_the_sink(client, downstream):
    assert client.get("/dev/mails/../api/x").status_code == 404
    assert len(downstream.calls) == 0


def test_healthz_answers_without_asking_anyone(client, downstream):
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "gateway"}
    assert len(downstream.calls) == 0


def test_readyz_is_ready_when_every_service_answers(client, downstream, urls):
    for url in urls.values():
        downstream.get(f"{url}/healthz", json={"status": "ok"})

    response = client.get("/readyz")

    assert response.status_code == 200
    assert set(response.get_json()["checks"]) == {"identity", "agrement-svc", "fiche-svc", "geo-svc", "notify-svc"}


def test_readyz_names_the_service_that_does_not_answer(client, downstream, urls):
    for name, url in urls.items():
        if name != "fiche":
            downstream.get(f"{url}/healthz", json={"status": "ok"})
    downstream.get(f"{urls['fiche']}/healthz", body=requests.ConnectionError("refused"))

    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["fiche-svc"].startswith("failed") and checks["identity"] == "ok"
