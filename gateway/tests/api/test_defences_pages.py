"""The captcha on the activation and login pages, locks told in French, the client's address forwarded, the
"courriel non reçu" help page and the staff's security page."""
from __future__ import annotations

import json

import pytest
import responses

from gateway.tests.conftest import SOLVED, calls_to

STEP1 = {"pmi_number": "280001", "birth_date_day": "12", "birth_date_month": "4", "birth_date_year": "1985"}


def refuse(downstream, urls, path, status, code, message="Refusé.", **extra):
    downstream.upsert(responses.POST, f"{urls['identity']}{path}", status=status,
                      json={"error": {"code": code, "message": message, **extra}})


def test_step_1_shows_the_captcha_with_its_sound_and_a_reload_without_javascript(client):
    html = client.get("/espace-pro/activation").get_data(as_text=True)
    assert '<img class="captcha__image" src="/captcha/challenge-0001.png"' in html
    assert '<audio class="captcha__audio" controls preload="none" src="/captcha/challenge-0001.wav"' in html
    assert '<a class="captcha__listen" href="/captcha/challenge-0001.wav">Écouter' in html
    assert 'name="captcha_reload" value="1"' in html and "Nouvelle image" in html
    assert '<input type="hidden" name="captcha_id" value="challenge-0001">' in html
    assert '<label class="label" for="captcha_answer">' in html
    # Enter in a field must submit the form, not ask for a new image: the first submit button is the form's own.
    assert html.index('class="visually-hidden" tabindex="-1" aria-hidden="true">Continuer') < html.index(
        "Nouvelle image")


def test_a_new_image_keeps_what_was_typed_and_asks_identity_nothing_else(client, downstream, csrf):
    response = client.post("/espace-pro/activation", data={
        **STEP1, "captcha_id": "challenge-0001", "captcha_reload": "1", "csrf_token": csrf("/espace-pro/activation")})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'value="280001"' in html and 'value="1985"' in html
    assert calls_to(downstream, "/api/activation/check") == []
    assert len(calls_to(downstream, "/api/captcha")) == 2
    assert "Il y a un problème" not in html


def test_step_1_without_the_captcha_answer_says_so_before_asking_identity(client, downstream, csrf):
    html = client.post("/espace-pro/activation", data={**STEP1, "captcha_id": "challenge-0001",
                                                       "csrf_token": csrf("/espace-pro/activation")}
                       ).get_data(as_text=True)
    assert calls_to(downstream, "/api/activation/check") == []
    assert '<p class="field-error" id="captcha_answer-error">' in html and '<a href="#captcha_answer">' in html


def test_a_wrong_captcha_is_shown_on_its_field_with_a_new_image(client, downstream, urls, csrf):
    refuse(downstream, urls, "/api/activation/check", 400, "captcha_wrong",
           "Les caractères recopiés ne correspondent pas à l'image.")
    response = client.post("/espace-pro/activation", data={**STEP1, **SOLVED,
                                                           "csrf_token": csrf("/espace-pro/activation")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="captcha_answer-error"><span class="visually-hidden">Erreur : </span>Les caractères recopiés' in html
    assert 'value="ak3fx"' not in html  # the next image has another answer
    assert 'value="280001"' in html


def test_a_locked_step_1_says_how_long_to_wait(client, downstream, urls, csrf):
    refuse(downstream, urls, "/api/activation/check", 429, "too_many_attempts", "Trop de tentatives.",
           retry_after=3600)
    response = client.post("/espace-pro/activation", data={**STEP1, **SOLVED,
                                                           "csrf_token": csrf("/espace-pro/activation")})
    assert response.status_code == 429
    assert "Trop de tentatives. Vous pourrez réessayer dans 60 minutes." in response.get_data(as_text=True)


def test_login_shows_the_captcha_after_a_first_failure_and_sends_it(client, downstream, urls, csrf, log_in):
    assert "captcha__image" not in client.get("/espace-pro/connexion").get_data(as_text=True)
    refuse(downstream, urls, "/api/sessions", 401, "invalid_credentials", "Identifiant ou mot de passe incorrect.")
    failed = client.post("/espace-pro/connexion", data={"pmi_number": "280001", "password": "pas le bon mot",
                                                        "csrf_token": csrf("/espace-pro/connexion")})
    assert failed.status_code == 400 and "captcha__image" in failed.get_data(as_text=True)
    assert json.loads(calls_to(downstream, "/api/sessions")[0].request.body) == {
        "login": "280001", "password": "pas le bon mot"}
    response = log_in(**SOLVED)
    assert response.status_code == 303
    assert json.loads(calls_to(downstream, "/api/sessions")[-1].request.body) == {
        "login": "280001", "password": "un mot de passe long", **SOLVED}


def test_login_asked_for_the_captcha_by_identity_shows_it(client, downstream, urls, csrf):
    refuse(downstream, urls, "/api/sessions", 428, "captcha_required", "Recopiez les caractères de l'image.")
    response = client.post("/espace-pro/connexion", data={"pmi_number": "280001", "password": "un mot de passe long",
                                                          "csrf_token": csrf("/espace-pro/connexion")})
    html = response.get_data(as_text=True)
    assert "captcha__image" in html and 'id="captcha_answer-error"' in html


def test_a_locked_login_says_how_long_to_wait(client, downstream, urls, csrf):
    refuse(downstream, urls, "/api/sessions", 429, "too_many_attempts", "Trop de tentatives.", retry_after=840)
    response = client.post("/espace-pro/connexion", data={"pmi_number": "280001", "password": "un mot de passe long",
                                                          "csrf_token": csrf("/espace-pro/connexion")})
    assert response.status_code == 429
    assert "Vous pourrez réessayer dans 14 minutes." in response.get_data(as_text=True)


def test_the_captcha_image_and_sound_are_proxied(client, downstream, urls):
    downstream.get(f"{urls['identity']}/api/captcha/challenge-0001.png", body=b"\x89PNG...",
                   content_type="image/png")
    downstream.get(f"{urls['identity']}/api/captcha/challenge-0001.wav", body=b"RIFF....WAVE",
                   content_type="audio/wav")
    image, sound = client.get("/captcha/challenge-0001.png"), client.get("/captcha/challenge-0001.wav")
    assert (image.status_code, image.mimetype, image.data) == (200, "image/png", b"\x89PNG...")
    assert (sound.status_code, sound.mimetype) == (200, "audio/wav")
    assert image.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/captcha/x.png", "/captcha/..%2F..%2Fapi%2Fme.png", "/captcha/challenge-0001.gif"])
def test_a_malformed_captcha_path_is_not_proxied(client, downstream, path):
    assert client.get(path).status_code == 404
    assert [call for call in downstream.calls if "/api/captcha/" in call.request.url] == []


def test_an_expired_captcha_image_is_a_404(client, downstream, urls):
    downstream.get(f"{urls['identity']}/api/captcha/challenge-0002.png", status=404,
                   json={"error": {"code": "captcha_not_found", "message": "expirée"}})
    assert client.get("/captcha/challenge-0002.png").status_code == 404


# -- the client's address -------------------------------------------------------------------------------------------

def _forwarded(downstream):
    return calls_to(downstream, "/api/captcha")[-1].request.headers["X-Forwarded-For"]


def test_identity_gets_the_browser_address_and_a_forged_header_changes_nothing(client, downstream):
    client.get("/espace-pro/activation", environ_base={"REMOTE_ADDR": "198.51.100.4"},
               headers={"X-Forwarded-For": "1.2.3.4"})
    assert _forwarded(downstream) == "198.51.100.4"


def test_behind_a_trusted_proxy_its_header_is_believed(make_app, downstream):
    client = make_app(GATEWAY_TRUSTED_PROXIES="10.0.0.1").test_client()
    client.get("/espace-pro/activation", environ_base={"REMOTE_ADDR": "10.0.0.1"},
               headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert _forwarded(downstream) == "203.0.113.9"


# -- help page -------------------------------------------------------------------------------------------------------

def test_the_mail_help_page_names_the_filtering_providers_and_the_pmi_phone(client):
    html = client.get("/espace-pro/courriel-non-recu").get_data(as_text=True)
    for provider in ("orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "yahoo"):
        assert provider in html
    assert "courriers indésirables" in html and "02 37 20 12 82" in html
    assert 'href="/espace-pro/activation"' in html


def test_the_mail_sent_page_links_to_the_help(client):
    assert 'href="/espace-pro/courriel-non-recu"' in client.get("/espace-pro/activation/courriel-envoye").get_data(
        as_text=True)


# -- the staff's page ------------------------------------------------------------------------------------------------

SUMMARY = {"spike_threshold_per_minute": 30, "failures_this_minute": 41, "failures_last_minute": 41,
           "failures_last_hour": 187, "throttled_last_hour": 150, "successes_last_hour": 3,
           "distinct_ips_failing_last_hour": 51, "spikes_last_day": 1,
           "by_action_last_hour": {"activation_check": {"failures": 37, "throttled": 150}},
           "spikes": [{"at": "2026-12-01T03:40:00+00:00", "failures_this_minute": 30, "threshold": 30}]}


def _as(client, clock, role):
    with client.session_transaction() as session:
        session.update(created_at=clock.now, last_seen=clock.now, access_token="access-staff",
                       refresh_token="refresh-staff", access_expires_at=clock.now + 600,
                       account={"id": "s1", "role": role, "pmi_number": None, "display_name": "Agent",
                                "email": "agent@cd28.fr"})


def test_the_security_page_shows_the_spike_to_staff(client, downstream, urls, clock):
    downstream.get(f"{urls['identity']}/api/security/summary", json=SUMMARY)
    _as(client, clock, "support")
    response = client.get("/espace-pmi/securite")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<dd data-counter="failures_this_minute">41</dd>' in html
    assert "1 pic d'échecs" in html and "Activation, étape 1" in html
    assert calls_to(downstream, "/api/security/summary")[0].request.headers["Authorization"] == "Bearer access-staff"


def test_the_security_page_is_refused_to_an_assmat_and_asks_a_stranger_to_log_in(client, downstream, clock):
    assert client.get("/espace-pmi/securite").status_code == 303
    _as(client, clock, "assmat")
    assert client.get("/espace-pmi/securite").status_code == 403
    assert calls_to(downstream, "/api/security/summary") == []
