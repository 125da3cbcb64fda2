"""Forgotten password, login by e-mail and the staff space, with identity faked: what is sent, what is shown."""
import json
import re

import responses

URLS = {"identity": "http://identity.test"}  # as in conftest.URLS


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

RESET = "/espace-pro/mot-de-passe-oublie"
STAFF_ANSWER = {"access_token": "staff-access", "expires_in": 900, "refresh_token": "staff-refresh",
                "account": {"id": "s-1", "role": "pmi_agent", "pmi_number": None, "display_name": "Agnès Agent",
                            "email": "agent@cd28.fr"}}
STAFF_ME = {"id": "s-1", "display_name": "Agnès Agent", "email": "agent@cd28.fr", "role": "pmi_agent",
            "roles": ["pmi_agent", "support"], "circonscriptions": ["Chartres", "Dreux"], "account_type": "staff"}


def body_of(call) -> dict:
    return json.loads(call.request.body)


def test_the_login_form_takes_a_pmi_number_or_an_email(client, downstream, csrf):
    page = client.get("/espace-pro/connexion").get_data(as_text=True)
    assert "Numéro de dossier PMI ou adresse e-mail" in page and "Mot de passe oublié" in page
    downstream.add(responses.POST, f"{URLS['identity']}/api/sessions", status=401,
                   json={"error": {"code": "invalid_credentials", "message": "Identifiant ou mot de passe incorrect."}})
    response = client.post("/espace-pro/connexion", data={"login": "Contact@MAM.fr", "password": "un mot de passe",
                                                          "csrf_token": csrf("/espace-pro/connexion")})
    assert response.status_code == 400
    assert body_of(downstream.calls[0]) == {"login": "Contact@MAM.fr", "password": "un mot de passe"}
    html = response.get_data(as_text=True)
    assert "Identifiant ou mot de passe incorrect." in html and 'value="Contact@MAM.fr"' in html
    assert "un mot de passe" not in html.replace("Mot de passe", "")


def test_a_login_that_is_neither_a_number_nor_an_email_is_told_before_any_call(client, downstream, csrf):
    for value, message in (("", "Saisissez votre numéro de dossier PMI ou votre adresse e-mail."),
                           ("28001", "6 chiffres"), ("2⁸0001", "6 chiffres")):
        response = client.post("/espace-pro/connexion", data={"login": value, "password": "x" * 12,
                                                              "csrf_token": csrf("/espace-pro/connexion")})
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert len(downstream.calls) == 0


def test_forgotten_password_sends_email_and_type_and_says_the_same_thing_whatever_happens(client, downstream, csrf):
    downstream.add(responses.POST, f"{URLS['identity']}/api/recovery/request", status=202,
                   json={"status": "accepted", "message": "..."})
    response = client.post(RESET, data={"email": "mam28-01@example.org", "account_type": "mam",
                                        "csrf_token": csrf(RESET)})
    assert response.status_code == 303 and response.headers["Location"] == f"{RESET}/envoye"
    assert body_of(downstream.calls[0]) == {"email": "mam28-01@example.org", "account_type": "mam"}
    page = client.get(f"{RESET}/envoye").get_data(as_text=True)
    assert "Si un compte de ce type existe avec cette adresse" in page


def test_the_request_form_answers_field_by_field_and_keeps_what_was_typed(client, downstream, csrf):
    response = client.post(RESET, data={"email": "marie@orange.fr", "account_type": "staff",
                                        "csrf_token": csrf(RESET)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Choisissez le type de compte." in html
    assert 'value="marie@orange.fr"' in html and len(downstream.calls) == 0
    response = client.post(RESET, data={"email": "", "account_type": "rpe", "csrf_token": csrf(RESET)})
    html = response.get_data(as_text=True)
    assert "adresse e-mail de votre compte." in html and 'value="rpe" checked' in html


def test_the_new_password_page_checks_the_link_then_sets_the_password(client, downstream, csrf):
    identity = URLS["identity"]
    downstream.add(responses.POST, f"{identity}/api/recovery/check",
                   json={"account_type": "mam", "display_name": "MAM Les Lucioles", "login": "mam28-01@example.org"})
    downstream.add(responses.POST, f"{identity}/api/recovery/complete",
                   json={"account_type": "mam", "display_name": "MAM Les Lucioles", "login": "mam28-01@example.org"})
    page = client.get(f"{RESET}/nouveau?jeton=abc")
    assert page.status_code == 200 and "MAM Les Lucioles" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    token = csrf_of(page.get_data(as_text=True))
    mismatch = client.post(f"{RESET}/nouveau", data={"jeton": "abc", "password": "une longue phrase",
                                                     "password_confirmation": "une autre", "csrf_token": token})
    assert mismatch.status_code == 400 and "ne sont pas identiques" in mismatch.get_data(as_text=True)
    done = client.post(f"{RESET}/nouveau", data={"jeton": "abc", "password": "une longue phrase",
                                                 "password_confirmation": "une longue phrase", "csrf_token": token})
    assert done.status_code == 200 and "mam28-01@example.org" in done.get_data(as_text=True)
    assert body_of(downstream.calls[-1]) == {"token": "abc", "password": "une longue phrase"}


def test_a_dead_link_is_explained(client, downstream):
    downstream.add(responses.POST, f"{URLS['identity']}/api/recovery/check", status=400,
                   json={"error": {"code": "reset_link_expired", "message": "Ce lien a expiré. Refaites une demande."}})
    page = client.get(f"{RESET}/nouveau?jeton=old")
    assert page.status_code == 400 and "Ce lien a expiré" in page.get_data(as_text=True)
    assert client.get(f"{RESET}/nouveau").status_code == 400
    assert client.get(f"{RESET}/nouveau?jeton=" + "x" * 600).status_code == 400


def test_staff_login_then_home_shows_who_and_which_roles(client, downstream, csrf):
    identity = URLS["identity"]
    downstream.add(responses.POST, f"{identity}/api/staff/sessions", json=STAFF_ANSWER)
    downstream.add(responses.GET, f"{identity}/api/staff/me", json=STAFF_ME)
    assert client.get("/espace-pmi").headers["Location"] == "/espace-pmi/connexion"
    response = client.post("/espace-pmi/connexion", data={"email": "agent@cd28.fr", "password": "phrase de passe",
                                                          "totp": "123 456", "csrf_token": csrf("/espace-pmi/connexion")})
    assert response.status_code == 303 and response.headers["Location"] == "/espace-pmi"
    assert body_of(downstream.calls[0]) == {"email": "agent@cd28.fr", "password": "phrase de passe", "totp": "123456"}
    home = client.get("/espace-pmi")
    html = home.get_data(as_text=True)
    assert "Agnès Agent" in html and "Agent de circonscription, Support" in html and "Chartres, Dreux" in html
    assert downstream.calls[1].request.headers["Authorization"] == "Bearer staff-access"
    assert client.get("/espace-pro").headers["Location"] == "/espace-pmi"


def test_staff_login_form_checks_the_code_and_shows_identitys_refusal(client, downstream, csrf):
    response = client.post("/espace-pmi/connexion", data={"email": "agent@cd28.fr", "password": "x",
                                                          "totp": "12a456", "csrf_token": csrf("/espace-pmi/connexion")})
    assert response.status_code == 400 and "6 chiffres" in response.get_data(as_text=True)
    downstream.add(responses.POST, f"{URLS['identity']}/api/staff/sessions", status=401,
                   json={"error": {"code": "staff_login_refused", "message": "Code de vérification incorrect."}})
    response = client.post("/espace-pmi/connexion", data={"email": "agent@cd28.fr", "password": "x",
                                                          "totp": "123456", "csrf_token": csrf("/espace-pmi/connexion")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Code de vérification incorrect." in html
    assert 'value="agent@cd28.fr"' in html and 'value="123456"' not in html


def test_an_assmat_session_does_not_open_the_staff_space(client, log_in):
    log_in()
    assert client.get("/espace-pmi").headers["Location"] == "/espace-pmi/connexion"


def test_a_mam_home_shows_its_structure_not_an_agrement(client, log_in, downstream):
    log_in({**STAFF_ANSWER, "account": {"id": "m-1", "role": "mam", "pmi_number": None,
                                        "display_name": "MAM Les Lucioles", "email": "mam28-01@example.org"}},
           login="mam28-01@example.org")
    html = client.get("/espace-pro").get_data(as_text=True)
    assert "Votre MAM" in html and "mam28-01@example.org" in html and "Mon agrément" not in html
    assert not [call for call in downstream.calls if "agrements" in call.request.url]
