"""FranceConnect in the gateway: buttons shown when identity offers it, the start of a sign-in, the callback bound
to this browser's session (state), refusals in French, logout through FranceConnect's end-session and its return."""
from __future__ import annotations

import json

import pytest

from gateway.tests.conftest import SOLVED, calls_to

STATE = "s" * 43
AUTHORIZATION_URL = f"http://fc.test/api/v2/authorize?state={STATE}&nonce={'n' * 43}"
ANSWER = {"access_token": "access-fc", "expires_in": 300, "refresh_token": "refresh-fc", "purpose": "login",
          "id_token": "header.claims.signature",
          "account": {"id": "acc-2", "role": "assmat", "pmi_number": "280002", "display_name": "Hélène MARTIN",
                      "email": None}}


@pytest.fixture
def app(make_app):
    return make_app(GATEWAY_FRANCECONNECT_ENABLED="true")


@pytest.fixture
def offered(downstream, urls):
    downstream.post(f"{urls['identity']}/api/franceconnect/authorize",
                    json={"authorization_url": AUTHORIZATION_URL, "state": STATE, "expires_in": 600})


@pytest.fixture
def started(client, offered):
    response = client.get("/franceconnect/connexion?parcours=connexion")
    assert response.status_code == 303 and response.headers["Location"] == AUTHORIZATION_URL
    return response


def test_the_login_page_offers_franceconnect_when_identity_does(client, offered):
    html = client.get("/espace-pro/connexion").get_data(as_text=True)
    assert "S'identifier avec <strong>FranceConnect</strong>" in html
    assert 'href="/franceconnect/connexion?parcours=connexion"' in html
    assert "https://" not in html.split("franceconnect__about")[0].split("<head>")[-1].split("</head>")[0]


def test_no_button_when_franceconnect_is_not_offered(make_app):
    client = make_app().test_client()
    assert "FranceConnect" not in client.get("/espace-pro/connexion").get_data(as_text=True)


def test_starting_keeps_the_state_in_the_session_and_goes_to_franceconnect(downstream, started):
    assert json.loads(calls_to(downstream, "/api/franceconnect/authorize")[0].request.body) == {"purpose": "login"}


def test_a_callback_with_another_state_is_refused_before_identity_is_asked(client, downstream, urls, started):
    downstream.post(f"{urls['identity']}/api/franceconnect/callback", json=ANSWER)
    response = client.get(f"/franceconnect/callback?code=abc&state={'x' * 43}")
    assert response.status_code == 400
    assert "pas celle que ce navigateur a demandée" in response.get_data(as_text=True)
    assert calls_to(downstream, "/api/franceconnect/callback") == []
    # The sign-in under way is spent: even the right state now fails.
    assert client.get(f"/franceconnect/callback?code=abc&state={STATE}").status_code == 400


def test_a_callback_in_a_browser_that_started_nothing_is_refused(client, downstream, urls):
    downstream.post(f"{urls['identity']}/api/franceconnect/callback", json=ANSWER)
    assert client.get(f"/franceconnect/callback?code=abc&state={STATE}").status_code == 400
    assert calls_to(downstream, "/api/franceconnect/callback") == []


def test_the_right_callback_opens_the_session_once(client, downstream, urls, started):
    downstream.post(f"{urls['identity']}/api/franceconnect/callback", json=ANSWER)
    response = client.get(f"/franceconnect/callback?code=the-code&state={STATE}")
    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro"
    assert json.loads(calls_to(downstream, "/api/franceconnect/callback")[0].request.body) == {
        "state": STATE, "code": "the-code"}
    # Replayed: refused, without asking identity again.
    assert client.get(f"/franceconnect/callback?code=the-code&state={STATE}").status_code == 400
    assert len(calls_to(downstream, "/api/franceconnect/callback")) == 1


def test_a_cancelled_sign_in_goes_back_to_the_login_page(client, started):
    response = client.get(f"/franceconnect/callback?error=access_denied&state={STATE}")
    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro/connexion"
    assert "annulée" in client.get("/espace-pro/connexion").get_data(as_text=True)


@pytest.mark.parametrize("status, code, message, title", [
    (403, "not_linked", "Aucun compte du portail n'est encore relié à cette identité FranceConnect. Activez "
                        "d'abord votre compte.", "Aucun compte relié à cette identité"),
    (400, "acr_insufficient", "Le niveau de sécurité de la connexion FranceConnect est insuffisant.",
     "Connexion FranceConnect impossible"),
    (400, "identity_mismatch", "L'identité transmise par FranceConnect ne correspond pas.", "Identité non reconnue"),
])
def test_identitys_refusals_are_told_in_french(client, downstream, urls, started, status, code, message, title):
    downstream.post(f"{urls['identity']}/api/franceconnect/callback", status=status,
                    json={"error": {"code": code, "message": message}})
    response = client.get(f"/franceconnect/callback?code=abc&state={STATE}")
    html = response.get_data(as_text=True)
    assert response.status_code == status and message.replace("'", "&#39;") in html and title in html


def test_an_unknown_parcours_is_a_400_in_french(client, offered):
    response = client.get("/franceconnect/connexion?parcours=autre")
    assert response.status_code == 400 and "existe pas" in response.get_data(as_text=True)


def test_activation_through_franceconnect_needs_step_1(client, offered):
    response = client.get("/franceconnect/connexion?parcours=activation")
    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro/activation"


def test_activation_through_franceconnect_sends_the_ticket(client, downstream, urls, offered, csrf):
    downstream.post(f"{urls['identity']}/api/activation/check",
                    json={"ticket": "ticket-1", "display_name": "Hélène MARTIN", "expires_in": 900})
    client.post("/espace-pro/activation", data={
        "pmi_number": "280002", "birth_date_day": "23", "birth_date_month": "11", "birth_date_year": "1979",
        **SOLVED, "csrf_token": csrf("/espace-pro/activation")})
    html = client.get("/espace-pro/activation/compte").get_data(as_text=True)
    assert 'href="/franceconnect/connexion?parcours=activation"' in html
    response = client.get("/franceconnect/connexion?parcours=activation")
    assert response.status_code == 303
    assert json.loads(calls_to(downstream, "/api/franceconnect/authorize")[0].request.body) == {
        "purpose": "activation", "ticket": "ticket-1"}


def _logged_in_with_franceconnect(client, downstream, urls):
    downstream.post(f"{urls['identity']}/api/franceconnect/callback", json=ANSWER)
    assert client.get(f"/franceconnect/callback?code=abc&state={STATE}").status_code == 303


def test_logout_after_a_franceconnect_login_ends_franceconnects_session(client, downstream, urls, started, csrf):
    _logged_in_with_franceconnect(client, downstream, urls)
    end_url = f"http://fc.test/api/v2/session/end?id_token_hint=x&state={'l' * 43}"
    downstream.post(f"{urls['identity']}/api/franceconnect/logout", json={"end_session_url": end_url,
                                                                         "state": "l" * 43})
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    downstream.post(f"{urls['identity']}/api/franceconnect/logout/return", json={"ok": True})
    response = client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    # A page that moves on by itself: a redirect answering the form would break the CSP's form-action 'self'.
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<meta http-equiv="refresh" content="0;url={end_url.replace("&", "&amp;")}">' in html
    assert json.loads(calls_to(downstream, "/api/franceconnect/logout")[0].request.body) == {
        "id_token": ANSWER["id_token"]}
    assert json.loads(calls_to(downstream, "/api/sessions/logout")[0].request.body) == {"refresh_token": "refresh-fc"}
    # The portal's session is over before FranceConnect's.
    assert client.get("/espace-pro").status_code == 303
    back = client.get(f"/?state={'l' * 43}")
    assert back.status_code == 303 and back.headers["Location"] == "/"
    assert "déconnecté·e du portail et de FranceConnect" in client.get("/").get_data(as_text=True)
    assert json.loads(calls_to(downstream, "/api/franceconnect/logout/return")[0].request.body) == {"state": "l" * 43}


def test_a_logout_return_with_another_state_is_not_trusted(client, downstream, urls, started, csrf):
    _logged_in_with_franceconnect(client, downstream, urls)
    downstream.post(f"{urls['identity']}/api/franceconnect/logout", json={"end_session_url": "http://fc.test/end",
                                                                         "state": "l" * 43})
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    response = client.get(f"/?state={'z' * 43}")
    assert response.status_code == 303
    assert "pas pu être vérifié" in client.get("/").get_data(as_text=True)
    assert calls_to(downstream, "/api/franceconnect/logout/return") == []


def test_a_state_on_the_home_page_without_a_logout_under_way_is_ignored(client):
    assert client.get(f"/?state={'z' * 43}").status_code == 200


def test_logout_after_a_password_login_does_not_go_to_franceconnect(client, log_in, downstream, urls, csrf):
    log_in()
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    response = client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    assert response.headers["Location"] == "/"
    assert calls_to(downstream, "/api/franceconnect/logout") == []
