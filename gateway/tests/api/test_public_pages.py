"""The public site: home, search results from fiche-svc, a fiche, and the pages shown when things go wrong."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

# fiche-svc's shape (see fiche-svc/README.md)
FICHE = {"id": "f-101", "kind": "assmat", "status": "active", "civility": "Mme", "first_name": "Claire",
         "last_name": "Martin", "commune": {"insee": "28085", "name": "Chartres", "postcode": "28000"},
         "capacity": {"total": 4, "under_3": 2}, "mam": None,
         "contact": {"phone": "02 37 00 00 01", "email": "claire.martin@example.fr"},
         "location": {"latitude": 48.44, "longitude": 1.49, "precision": "municipality"}}
MAM_FICHE = {"id": "f-102", "kind": "assmat", "status": "active", "civility": "M.", "first_name": "Paul",
             "last_name": "Durand", "commune": {"insee": "28085", "name": "Chartres", "postcode": "28000"},
             "capacity": {"total": 3, "under_3": 1}, "mam": {"name": "Les Petits Pas"}, "contact": None,
             "location": None}


def _query(call) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(call.request.url).query).items()}


def test_home_offers_the_search_form_and_the_espace_pro(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert 'href="#contenu"' in html and 'id="contenu"' in html
    assert 'action="/recherche"' in html and '<label class="label label--large" for="q">' in html
    assert 'href="/espace-pro/connexion"' in html and 'href="/espace-pro/activation"' in html


def test_search_by_text_renders_a_card_per_fiche(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={
        "total": 2, "page": 1, "per_page": 20, "commune": {"insee": "28085", "name": "Chartres"},
        "fiches": [FICHE, MAM_FICHE]})

    response = client.get("/recherche?q=Chartres")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _query(downstream.calls[0]) == {"q": "Chartres", "page": "1", "per_page": "20"}
    assert "Assistant·es maternel·les à Chartres" in html
    assert "2 assistant·es maternel·les trouvé·es" in html
    assert html.count('class="card"') == 2
    assert 'href="/assistant-maternel/f-101">Mme Claire Martin</a>' in html
    assert "4 places d'accueil, dont 2 pour les moins de 3 ans" in html
    assert 'href="tel:0237000001"' in html and 'href="mailto:claire.martin@example.fr"' in html
    assert '<span class="badge">MAM</span> Les Petits Pas' in html
    assert "Coordonnées non publiées" in html


def test_search_by_commune_sends_the_insee_code_and_pages_through_results(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={
        "total": 45, "page": 2, "per_page": 20, "commune": {"insee": "28085", "name": "Chartres"},
        "fiches": [FICHE]})

    html = client.get("/recherche?commune=28085&page=2").get_data(as_text=True)

    assert _query(downstream.calls[0]) == {"commune": "28085", "page": "2", "per_page": "20"}
    assert "Page 2 sur 3" in html
    assert 'href="/recherche?commune=28085&amp;page=1" rel="prev"' in html
    assert 'href="/recherche?commune=28085&amp;page=3" rel="next"' in html


def test_search_lists_the_communes_a_text_could_mean(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={
        "total": 0, "page": 1, "per_page": 20, "commune": None, "fiches": [],
        "candidates": [{"insee": "28280", "name": "Nogent-le-Rotrou", "postcodes": ["28400"], "fiches": 12},
                       {"insee": "28279", "name": "Nogent-le-Roi", "postcodes": ["28210"], "fiches": 1}]})

    html = client.get("/recherche?q=Nogent").get_data(as_text=True)

    assert "Plusieurs communes correspondent à « Nogent »" in html
    assert 'href="/recherche?commune=28280">Nogent-le-Rotrou <span class="muted">(28400)</span></a> · 12 fiches' in html
    assert 'href="/recherche?commune=28279">Nogent-le-Roi <span class="muted">(28210)</span></a> · 1 fiche' in html
    assert "Aucun résultat" not in html


def test_search_without_results_gives_advice(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={
        "total": 0, "page": 1, "per_page": 20, "commune": {"insee": "28001", "name": "Abondant"}, "fiches": []})

    html = client.get("/recherche?commune=28001").get_data(as_text=True)

    assert "Aucun résultat à Abondant" in html
    assert "la mairie tient la liste complète" in html
    assert 'class="card"' not in html


def test_search_shows_fiche_svc_refusal_next_to_the_field(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", status=400, json={"error": {
        "code": "invalid_postcode", "message": "Un code postal compte 5 chiffres."}})

    response = client.get("/recherche?q=28")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="q-error"' in html and 'aria-describedby="q-hint q-error" aria-invalid="true"' in html
    assert "Un code postal compte 5 chiffres." in html
    assert 'value="28"' in html


def test_search_page_alone_shows_only_the_form(client, downstream):
    response = client.get("/recherche")
    assert response.status_code == 200 and len(downstream.calls) == 0
    assert 'id="q"' in response.get_data(as_text=True)


def test_fiche_page_shows_the_public_fiche(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-102", json={**MAM_FICHE,
                                                              "presentation": "Accueil en MAM près du parc."})

    html = client.get("/assistant-maternel/f-102").get_data(as_text=True)

    assert "<h1 class=\"fiche__name\">M. Paul Durand</h1>" in html
    assert "Maison d'assistants maternels « Les Petits Pas »" in html
    assert "3 enfants en même temps" in html and "1 enfant au plus" in html
    assert "Accueil en MAM près du parc." in html
    assert 'href="/recherche?commune=28085">Chartres</a>' in html


def test_a_temporary_stop_says_why_the_contact_is_missing(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-101", json={**FICHE, "status": "temporary_stop", "contact": None})
    assert "Accueil momentanément interrompu" in client.get("/assistant-maternel/f-101").get_data(as_text=True)


def test_unknown_fiche_gives_a_french_404(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-999", status=404,
                   json={"error": {"code": "fiche_not_found", "message": "Fiche introuvable."}})

    response = client.get("/assistant-maternel/f-999")

    assert response.status_code == 404
    assert "Fiche introuvable" in response.get_data(as_text=True)


def test_unknown_page_gives_a_french_404_page(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page introuvable" in response.get_data(as_text=True)


def test_fiche_svc_failing_gives_the_french_503_page(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", status=503, json={"error": {"code": "x", "message": "x"}})

    response = client.get("/recherche?q=Chartres")

    assert response.status_code == 503
    assert "Service temporairement indisponible" in response.get_data(as_text=True)


def test_fiche_svc_unreachable_gives_the_french_503_page(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-101", body=requests.ConnectionError("refused"))

    response = client.get("/assistant-maternel/f-101")

    assert response.status_code == 503
    assert "Service temporairement indisponible" in response.get_data(as_text=True)


def test_correlation_id_is_forwarded_downstream(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches/f-101", json=FICHE)

    response = client.get("/assistant-maternel/f-101", headers={"X-Correlation-ID": "corr-123"})

    assert response.headers["X-Correlation-ID"] == "corr-123"
    assert downstream.calls[0].request.headers["X-Correlation-ID"] == "corr-123"
    assert "Authorization" not in downstream.calls[0].request.headers


def test_pages_carry_the_security_headers(client):
    headers = client.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_script(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={"total": 1, "page": 1, "per_page": 20,
                                                        "commune": None, "fiches": [FICHE]})
    for path in ("/", "/recherche?q=Chartres", "/espace-pro/connexion", "/espace-pro/activation"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and "style=" not in html


def test_anonymous_visitors_get_no_session_cookie(client, downstream, urls):
    downstream.get(f"{urls['fiche']}/api/fiches", json={"total": 0, "page": 1, "per_page": 20,
                                                        "commune": None, "fiches": []})
    for path in ("/", "/recherche?q=Chartres"):
        assert "Set-Cookie" not in client.get(path).headers
