"""Activation of an espace pro account: the two steps, the mail-sent page, the confirmation link."""
from __future__ import annotations

import json

import pytest

from gateway.tests.conftest import SOLVED, calls_to

CHECK_ANSWER = {"ticket": "ticket-1", "display_name": "Claire Martin", "expires_in": 900}
STEP1 = {"pmi_number": "280001", "birth_date_day": "12", "birth_date_month": "4", "birth_date_year": "1985",
         **SOLVED}
STEP2 = {"email": "claire.martin@example.fr", "password": "une phrase assez longue",
         "password_confirmation": "une phrase assez longue"}


@pytest.fixture
def checked(client, downstream, urls, csrf):
    """Step 1 passed: identity's ticket is in the session."""
    downstream.post(f"{urls['identity']}/api/activation/check", json=CHECK_ANSWER)
    response = client.post("/espace-pro/activation", data={**STEP1, "csrf_token": csrf("/espace-pro/activation")})
    assert response.status_code == 303
    return response


def test_step_1_sends_the_pmi_number_and_iso_birth_date_then_leads_to_step_2(client, downstream, checked):
    assert checked.headers["Location"] == "/espace-pro/activation/compte"
    assert json.loads(calls_to(downstream, "/api/activation/check")[0].request.body) == {
        "pmi_number": "280001", "birth_date": "1985-04-12", **SOLVED}
    html = client.get("/espace-pro/activation/compte").get_data(as_text=True)
    assert "Bonjour Claire Martin" in html
    assert "Au moins 12 caractères" in html


def test_step_2_offers_to_resend_the_link_of_an_activation_already_pending(client, downstream, urls, csrf):
    downstream.post(f"{urls['identity']}/api/activation/check", json={**CHECK_ANSWER,
                                                                      "pending_email": "c***@orange.fr"})
    client.post("/espace-pro/activation", data={**STEP1, "csrf_token": csrf("/espace-pro/activation")})

    html = client.get("/espace-pro/activation/compte").get_data(as_text=True)

    assert "déjà été envoyé à <strong>c***@orange.fr</strong>" in html
    assert 'action="/espace-pro/activation/renvoyer"' in html


def test_step_1_shows_identity_refusal_next_to_the_field(client, downstream, urls, csrf):
    message = ("Ces informations ne permettent pas d'activer un compte. Vérifiez le numéro et la date de "
               "naissance, ou contactez votre circonscription de PMI.")
    downstream.post(f"{urls['identity']}/api/activation/check", status=400,
                    json={"error": {"code": "activation_refused", "message": message}})

    response = client.post("/espace-pro/activation",
                           data={**STEP1, "csrf_token": csrf("/espace-pro/activation")})

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("Ces informations ne permettent pas d&#39;activer un compte") == 2  # summary + field
    assert '<a href="#pmi_number">' in html
    assert 'aria-describedby="pmi_number-hint pmi_number-error" aria-invalid="true"' in html
    assert 'value="280001"' in html  # what was typed stays


def test_step_1_catches_a_malformed_form_without_asking_identity(client, downstream, csrf):
    data = {"pmi_number": "28001", "birth_date_day": "31", "birth_date_month": "2", "birth_date_year": "1985",
            "csrf_token": csrf("/espace-pro/activation")}

    html = client.post("/espace-pro/activation", data=data).get_data(as_text=True)

    assert calls_to(downstream, "/api/activation/check") == []
    assert "exactement 6 chiffres" in html
    assert "Recopiez les caractères de l&#39;image" in html  # the captcha is part of step 1
    assert "La date de naissance doit être une date réelle" in html
    assert '<a href="#birth_date">' in html and 'id="birth_date"' in html


def test_step_2_without_ticket_redirects_to_step_1(client):
    response = client.get("/espace-pro/activation/compte", follow_redirects=True)

    assert response.request.path == "/espace-pro/activation"
    assert "Commencez par l&#39;étape 1" in response.get_data(as_text=True)


def test_step_2_after_the_ticket_expired_redirects_to_step_1(client, checked, clock):
    clock.advance(901)
    response = client.get("/espace-pro/activation/compte")
    assert response.status_code == 303 and response.headers["Location"] == "/espace-pro/activation"


def test_step_2_shows_identity_weak_password_refusal_next_to_the_password(client, downstream, urls, checked, csrf):
    downstream.post(f"{urls['identity']}/api/activation/complete", status=400, json={"error": {
        "code": "weak_password", "message": "Ce mot de passe est trop courant, choisissez-en un autre."}})
    data = {**STEP2, "csrf_token": csrf("/espace-pro/activation/compte")}

    response = client.post("/espace-pro/activation/compte", data=data)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="field-error" id="password-error">' in html
    assert "Ce mot de passe est trop courant" in html
    assert '<a href="#password">' in html
    assert "une phrase assez longue" not in html  # passwords are never sent back
    assert json.loads(downstream.calls[-1].request.body) == {"ticket": "ticket-1", **{
        key: STEP2[key] for key in ("email", "password")}}


def test_step_2_catches_a_missing_email_and_a_mistyped_confirmation_before_asking_identity(client, downstream,
                                                                                          checked, csrf):
    data = {"email": "", "password": "une phrase assez longue", "password_confirmation": "une phrase assez long",
            "csrf_token": csrf("/espace-pro/activation/compte")}

    html = client.post("/espace-pro/activation/compte", data=data).get_data(as_text=True)

    assert len(calls_to(downstream, "/api/activation/check")) == 1  # only step 1's check
    assert calls_to(downstream, "/api/activation/complete") == []
    assert "Saisissez votre adresse e-mail." in html
    assert '<p class="field-error" id="password_confirmation-error">' in html
    assert "Les deux mots de passe ne sont pas identiques" in html


def test_step_2_with_an_expired_ticket_at_identity_restarts_the_activation(client, downstream, urls, checked, csrf):
    downstream.post(f"{urls['identity']}/api/activation/complete", status=400, json={"error": {
        "code": "ticket_expired", "message": "Votre session d'activation a expiré, recommencez l'étape 1."}})

    response = client.post("/espace-pro/activation/compte",
                           data={**STEP2, "csrf_token": csrf("/espace-pro/activation/compte")},
                           follow_redirects=True)

    assert response.request.path == "/espace-pro/activation"
    assert "Votre session d&#39;activation a expiré" in response.get_data(as_text=True)


def test_account_created_leads_to_the_mail_advice_page_which_can_resend(client, downstream, urls, checked, csrf):
    downstream.post(f"{urls['identity']}/api/activation/complete", status=201,
                    json={"account_id": "acc-1", "email": STEP2["email"]})
    downstream.post(f"{urls['identity']}/api/activation/resend", json={
        "status": "pending_email", "email": "c***@example.fr", "expires_at": "2025-06-16T10:00:00+00:00"})

    response = client.post("/espace-pro/activation/compte",
                           data={**STEP2, "csrf_token": csrf("/espace-pro/activation/compte")})
    assert response.headers["Location"] == "/espace-pro/activation/courriel-envoye"
    html = client.get("/espace-pro/activation/courriel-envoye").get_data(as_text=True)
    assert "<strong>claire.martin@example.fr</strong>" in html
    assert "orange.fr" in html and "courriers indésirables" in html
    assert 'href="/dev/mails"' in html  # local runs capture mail

    resent = client.post("/espace-pro/activation/renvoyer",
                         data={"csrf_token": csrf("/espace-pro/activation/courriel-envoye")}, follow_redirects=True)

    assert json.loads(downstream.calls[-1].request.body) == {"ticket": "ticket-1"}
    assert "Un nouveau courriel vient d&#39;être envoyé à c***@example.fr" in resent.get_data(as_text=True)


def test_confirmation_link_activates_the_account(client, downstream, urls):
    downstream.post(f"{urls['identity']}/api/activation/confirm", json={"account_id": "acc-1"})

    response = client.get("/espace-pro/activation/confirmer?jeton=tok-123")

    assert response.status_code == 200
    assert json.loads(downstream.calls[0].request.body) == {"token": "tok-123"}
    assert "Votre compte est activé" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("code, title", [("link_used", "Ce lien a déjà servi"), ("link_expired", "Ce lien a expiré"),
                                         ("link_invalid", "Ce lien n&#39;est pas valide")])
def test_a_bad_confirmation_link_says_why(client, downstream, urls, code, title):
    downstream.post(f"{urls['identity']}/api/activation/confirm", status=400,
                    json={"error": {"code": code, "message": f"Message d'identity pour {code}."}})

    response = client.get("/espace-pro/activation/confirmer?jeton=tok-123")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"<h1>{title}</h1>" in html
    assert f"Message d&#39;identity pour {code}." in html


def test_a_confirmation_link_without_token_never_reaches_identity(client, downstream):
    assert client.get("/espace-pro/activation/confirmer").status_code == 400
    assert len(downstream.calls) == 0
