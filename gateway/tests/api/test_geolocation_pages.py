"""Geolocation pages (issue 9) with geo-svc and identity faked: the assmat's request, support's review."""
import json

import responses

from gateway.web.geolocation_map import static_map

GEO, IDENTITY = "http://geo.test", "http://identity.test"   # as in conftest.URLS
PAGE = "/espace-pro/geolocalisation"
LINK = "https://adresse.data.gouv.fr/map?lng=1.48390&lat=48.44630&z=19"
PLACE = {"place_id": "280001", "address_line": "8 rue Noël Ballay", "postcode": "28000", "commune_insee": "28085",
         "commune_name": "Chartres", "latitude": 48.4451, "longitude": 1.4850, "precision": "street", "score": 0.62,
         "label": "Rue Noël Ballay 28000 Chartres", "source": "ban", "needs_review": True,
         "review_reason": "localisée seulement à la voie ou au lieu-dit", "public_latitude": 48.445,
         "public_longitude": 1.485, "corrected": False, "commune_latitude": 48.4469, "commune_longitude": 1.4892}
CORRECTION = {"correction_id": "c0ffee00-0000-4000-8000-000000000001", "place_id": "280001", "account_id": "acc-1",
              "link": LINK, "latitude": 48.4463, "longitude": 1.4839, "zoom": 19, "comment": "portail bleu",
              "status": "pending", "previous_latitude": 48.4451, "previous_longitude": 1.4850,
              "requested_at": "2026-12-01T04:50:00+00:00", "decided_at": None, "decision_reason": None,
              "place": PLACE, "distance_from_current_m": 152, "distance_from_commune_m": 380,
              "tile_url": "/tuiles/{z}/{x}/{y}.png",
              "proposal_address": {"label": "6 Rue Noël Ballay 28000 Chartres", "type": "housenumber",
                                   "source": "ban"}}
SUPPORT_LOGIN = {"access_token": "staff-access", "expires_in": 900, "refresh_token": "staff-refresh",
                 "account": {"id": "s-1", "role": "pmi_agent", "roles": ["pmi_agent", "support"], "pmi_number": None,
                             "display_name": "Sam Support", "email": "support@cd28.fr"}}


def staff_log_in(client, downstream, csrf, answer=SUPPORT_LOGIN):
    downstream.upsert(responses.POST, f"{IDENTITY}/api/staff/sessions", json=answer)
    response = client.post("/espace-pmi/connexion", data={"email": "support@cd28.fr", "password": "phrase",
                                                          "totp": "123456",
                                                          "csrf_token": csrf("/espace-pmi/connexion")})
    assert response.status_code == 303


def test_the_assmat_sees_her_pin_and_sends_a_link(client, downstream, log_in, csrf):
    log_in()
    downstream.add(responses.GET, f"{GEO}/api/geolocation/me", json={"place": PLACE, "corrections": []})
    page = client.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "à la rue" in html and "48.44510, 1.48500" in html
    assert page.headers["Cache-Control"] == "no-store"
    downstream.add(responses.POST, f"{GEO}/api/geolocation/me/corrections", status=201, json=CORRECTION)
    sent = client.post(PAGE, data={"link": f"  {LINK} ", "comment": "portail bleu", "csrf_token": csrf(PAGE)})
    assert sent.status_code == 303 and sent.headers["Location"] == PAGE
    [call] = [c for c in downstream.calls if c.request.method == "POST" and "corrections" in c.request.url]
    assert json.loads(call.request.body) == {"link": LINK, "comment": "portail bleu"}
    assert call.request.headers["Authorization"] == "Bearer access-1"


def test_geo_svcs_refusal_is_shown_next_to_the_link_keeping_it(client, downstream, log_in, csrf):
    log_in()
    downstream.add(responses.GET, f"{GEO}/api/geolocation/me", json={"place": PLACE, "corrections": []})
    downstream.add(responses.POST, f"{GEO}/api/geolocation/me/corrections", status=400, json={"error": {
        "code": "other_site", "message": "Seuls les liens de la carte de adresse.data.gouv.fr sont acceptés.",
        "field": "link"}})
    response = client.post(PAGE, data={"link": "https://maps.example/x", "comment": "", "csrf_token": csrf(PAGE)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Seuls les liens" in html and 'value="https://maps.example/x"' in html
    assert 'id="link-error"' in html


def test_an_empty_link_or_a_long_comment_is_refused_before_any_call(client, downstream, log_in, csrf):
    log_in()
    downstream.add(responses.GET, f"{GEO}/api/geolocation/me", json={"place": PLACE, "corrections": []})
    response = client.post(PAGE, data={"link": "", "comment": "x" * 501, "csrf_token": csrf(PAGE)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Collez le lien" in html and "500 caractères" in html
    assert not [c for c in downstream.calls if c.request.method == "POST" and "corrections" in c.request.url]


def test_the_page_needs_a_login(client):
    response = client.get(PAGE)
    assert response.status_code == 303 and "/espace-pro/connexion" in response.headers["Location"]


def test_support_reviews_and_accepts(client, downstream, csrf):
    staff_log_in(client, downstream, csrf)
    downstream.add(responses.GET, f"{GEO}/api/corrections", json={"corrections": [CORRECTION]})
    downstream.add(responses.GET, f"{GEO}/api/review/places", json={"places": [PLACE]})
    home = client.get("/espace-pmi/geolocalisation").get_data(as_text=True)
    assert CORRECTION["correction_id"] in home and "localisée seulement à la voie" in home
    downstream.add(responses.GET, f"{GEO}/api/corrections/{CORRECTION['correction_id']}", json=CORRECTION)
    path = f"/espace-pmi/geolocalisation/demandes/{CORRECTION['correction_id']}"
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and 'data-marker="proposal"' in html
    assert "48.44630, 1.48390" in html and "152 m" in html and '/tuiles/' in html
    assert "6 Rue Noël Ballay 28000 Chartres" in html
    downstream.add(responses.POST, f"{GEO}/api/corrections/{CORRECTION['correction_id']}/decision",
                   json={"correction_id": CORRECTION["correction_id"], "status": "accepted"})
    token = csrf(path)
    refused = client.post(path + "/decision", data={"decision": "refuse", "reason": "", "csrf_token": token})
    assert refused.status_code == 400 and "motif du refus" in refused.get_data(as_text=True)
    done = client.post(path + "/decision", data={"decision": "accept", "reason": "", "csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == "/espace-pmi/geolocalisation"
    [call] = [c for c in downstream.calls if c.request.url.endswith("/decision")]
    assert json.loads(call.request.body) == {"decision": "accept", "reason": ""}
    assert call.request.headers["Authorization"] == "Bearer staff-access"


def test_staff_without_the_support_role_are_refused(client, downstream, csrf):
    agent = {**SUPPORT_LOGIN, "account": {**SUPPORT_LOGIN["account"], "roles": ["pmi_agent"]}}
    staff_log_in(client, downstream, csrf, agent)
    assert client.get("/espace-pmi/geolocalisation").status_code == 403
    assert not [c for c in downstream.calls if c.request.url.startswith(GEO)]


def test_support_pages_need_a_staff_login(client):
    assert client.get("/espace-pmi/geolocalisation").headers["Location"] == "/espace-pmi/connexion"


def test_the_static_map_fits_every_point_and_draws_tiles_of_the_configured_server():
    drawn = static_map([(48.4469, 1.4892, "Mairie", "commune"), (48.4451, 1.4850, "Actuelle", "current"),
                        (48.4463, 1.4839, "Proposée", "proposal")], "/tuiles/{z}/{x}/{y}.png")
    assert 10 <= drawn.zoom <= 19
    assert all(0 <= m.x <= drawn.width and 0 <= m.y <= drawn.height for m in drawn.markers)
    assert drawn.tiles and all(t.href.startswith(f"/tuiles/{drawn.zoom}/") for t in drawn.tiles)
    assert static_map([(None, None, "x", "current")], None) is None
    assert static_map([(48.4, 1.4, "x", "current")], None).tiles == []
