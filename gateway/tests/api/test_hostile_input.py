"""Every route of the gateway, every parameter, hostile values: never a 500, never a header injected, and the cases
people can meet (a huge number in a date, a CR/LF in `suivant`, a superscript page number, bytes that are not
UTF-8, very long values) answered 400 in French.

The table is built from the app's own URL map, so a route added later is tried too (with the parameters it is known
to read when listed in PARAMETERS, with the common ones otherwise)."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import responses


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# Raw, as they travel in a URL or a form body (already percent-encoded where they must be).
HOSTILE = {
    "huge number": "99999999999999999999",
    "superscript digit": "%C2%B2",
    "arabic-indic digits": "%D9%A1%D9%A2",
    "negative": "-1",
    "zero": "0",
    "CR/LF header": "%0d%0aSet-Cookie:%20injected=1",
    "NUL": "%00",
    "not UTF-8": "%ff%fe",
    "overlong": "a" * 5000,
    "markup": "%3Cscript%3Ealert(1)%3C/script%3E",
    "path climbing": "..%2F..%2Fetc%2Fpasswd",
    "quote": "%27%20OR%201%3D1--",
    "exponent": "1e9",
    "blank": "%20",
    "math digit": "%F0%9D%9F%99",
    "line separator": "%E2%80%A8",
}

# What each page reads (query for GET, form for POST); routes not listed get COMMON.
PARAMETERS = {
    "public.search": ["q", "commune", "page"],
    "pro.login": ["suivant", "login", "pmi_number", "password", "captcha_answer"],
    "pro.activation": ["pmi_number", "birth_date_day", "birth_date_month", "birth_date_year"],
    "pro.activation_account": ["email", "password", "password_confirmation"],
    "pro.activation_confirm": ["jeton"],
    "api.fiches": ["commune", "q", "page", "per_page"],
    "api.communes": ["q", "limit"],
}
COMMON = ["q", "page", "suivant"]
# A plausible value for every parameter: each hostile value replaces one of them, the others stay valid, so that
# the view goes as far as it can with the hostile one (a date part is only parsed when the other two are there).
BASELINE = {"q": "Chartres", "commune": "28085", "page": "1", "per_page": "20", "limit": "10",
            "suivant": "/espace-pro", "pmi_number": "280001", "password": "un mot de passe long",
            "password_confirmation": "un mot de passe long", "email": "claire%40example.fr", "birth_date_day": "12",
            "birth_date_month": "4", "birth_date_year": "1985", "jeton": "abc"}
ALLOWED = {200, 303, 400, 404, 405, 413}
SKIPPED_ENDPOINTS = {"static"}


@pytest.fixture
def permissive_downstream(downstream, urls):
    """Services that answer like the real ones would to anything: an empty search, a 404 fiche, a refusal."""
    refusal = {"error": {"code": "invalid", "message": "Refusé."}}
    for url in urls.values():
        downstream.add(responses.GET, f"{url}/healthz", json={"status": "ok"})
    downstream.add(responses.GET, re.compile(re.escape(urls["fiche"]) + r"/api/fiches\?.*"),
                   json={"fiches": [], "total": 0, "page": 1, "per_page": 20})
    downstream.add(responses.GET, re.compile(re.escape(urls["fiche"]) + r"/api/fiches/.+"), status=404,
                   json={"error": {"code": "not_found", "message": "Fiche introuvable."}})
    downstream.add(responses.GET, re.compile(re.escape(urls["geo"]) + r"/.*"), json={"communes": []})
    downstream.add(responses.POST, re.compile(re.escape(urls["identity"]) + r"/.*"), status=400, json=refusal)
    downstream.add(responses.GET, re.compile(re.escape(urls["identity"]) + r"/api/.*"), status=404,
                   json={"error": {"code": "captcha_not_found", "message": "Image expirée."}})
    downstream.add(responses.GET, re.compile(re.escape(urls["notify"]) + r"/.*"), body="<p>sink</p>",
                   content_type="text/html")
    downstream.add(responses.GET, re.compile(re.escape(urls["agrement"]) + r"/.*"), json={})
    return downstream


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _path(rule, value: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", value, rule.rule)


def _query(names: list[str], hostile: str, raw: str) -> str:
    return "&".join(f"{name}={raw if name == hostile else BASELINE.get(name, '')}" for name in names)


def _assert_sane(response, where: str) -> None:
    assert response.status_code in ALLOWED, f"{where}: {response.status_code}"
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, f"{where}: header {name} carries a line break"
        assert "injected=1" not in value, f"{where}: {name}: {value}"  # percent-encoded is harmless
    if response.status_code == 400 and response.mimetype == "text/html":
        assert "lang=\"fr\"" in response.get_data(as_text=True), where


def test_every_route_and_parameter_survives_hostile_values(app, client, permissive_downstream):
    tried = 0
    for rule, method in _routes(app):
        names = PARAMETERS.get(rule.endpoint, COMMON)
        for label, raw in HOSTILE.items():
            path = _path(rule, raw if "<" in rule.rule else "")
            where = f"{method} {rule.rule} [{label}]"
            if method == "GET":
                for name in names:
                    response = client.get(f"{path}?{_query(names, name, raw)}")
                    _assert_sane(response, f"{where} {name}")
                    tried += 1
            else:
                # A page that asks no service for anything (the login page fetches a captcha after a failure)
                token = csrf_of(client.get("/espace-pro/mot-de-passe-oublie").get_data(as_text=True))
                for name in names:
                    body = f"csrf_token={quote(token)}&{_query(names, name, raw)}"
                    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
                    _assert_sane(response, f"{where} {name}")
                    tried += 1
    assert tried > 300


@pytest.mark.parametrize("url, message", [
    ("/espace-pro/connexion?suivant=%0d%0aSet-Cookie:x", "caractères non valides"),
    ("/espace-pro/connexion?suivant=/espace-pro%0d%0aSet-Cookie:x", "caractères non valides"),
    ("/recherche?page=%C2%B2&q=Chartres", "« page » doit être un nombre entier"),
    ("/recherche?page=99999999999999999999&q=Chartres", "« page » doit être un nombre entier"),
    ("/recherche?q=%ff%fe", "caractères non valides"),
    ("/recherche?q=" + "a" * 3000, "trop longue"),
    ("/assistant-maternel/%0d%0a", "caractères non valides"),
    ("/espace-pro/activation/confirmer?jeton=%00abc", "caractères non valides"),
    ("/assistant-maternel/" + "a" * 1200, "trop longue"),
])
def test_hostile_pages_answer_400_in_french(client, permissive_downstream, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "injected" not in str(response.headers) and "x" not in response.headers.get("Set-Cookie", "").split("=")[0]


@pytest.mark.parametrize("url, code", [
    ("/api/v1/fiches?q=Chartres&page=%C2%B2", "bad_page"),
    ("/api/v1/fiches?q=Chartres&per_page=99999999999999999999", "bad_per_page"),
    ("/api/v1/communes?q=Char&limit=-1", "bad_limit"),
    ("/api/v1/fiches?q=%ff", "bad_input"),
])
def test_hostile_api_calls_answer_400_json_in_french(client, permissive_downstream, url, code):
    response = client.get(url)
    assert response.status_code == 400
    assert response.json["error"]["code"] == code and response.json["error"]["message"]


@pytest.mark.parametrize("day, month, year", [("99999999999999999999", "4", "1985"), ("12", "4", "99999"),
                                              ("١٢", "4", "1985"), ("12", "²", "1985"), ("12", "4", "-1985")])
def test_a_hostile_date_part_is_a_field_error_keeping_what_was_typed(client, csrf, day, month, year):
    response = client.post("/espace-pro/activation", data={
        "pmi_number": "280001", "birth_date_day": day, "birth_date_month": month, "birth_date_year": year,
        "csrf_token": csrf("/espace-pro/activation")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "doit être une date réelle" in html
    assert 'value="280001"' in html  # what was typed stays in the form


def test_a_refused_login_keeps_the_number_but_never_the_password(client, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/sessions", status=401,
                    json={"error": {"code": "invalid_credentials", "message": "Identifiant ou mot de passe incorrect."}})
    response = client.post("/espace-pro/connexion", data={"pmi_number": "28 00 01", "password": "mot de passe typé",
                                                          "csrf_token": csrf("/espace-pro/connexion")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'value="280001"' in html and "mot de passe typé" not in html


def test_a_return_address_elsewhere_is_ignored_not_refused(client):
    response = client.get("/espace-pro/connexion?suivant=https://example.com/")
    assert response.status_code == 200 and "example.com" not in response.get_data(as_text=True)


def test_a_bad_page_number_keeps_the_search_typed(client):
    response = client.get("/recherche?q=Chartres&page=%C2%B2")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'value="Chartres"' in html and "« page »" in html


def test_a_body_no_form_of_ours_could_make_is_refused(client, csrf):
    token = csrf("/espace-pro/connexion")
    many = "&".join(f"f{index}=x" for index in range(1000))
    response = client.post("/espace-pro/connexion", data=f"csrf_token={token}&{many}",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 413) and response.status_code != 500
    big = client.post("/espace-pro/connexion", data={"csrf_token": token, "pmi_number": "x" * 300_000})
    assert big.status_code == 413 and "trop volumineux" in big.get_data(as_text=True)
