"""The first path of the professional space, through the gateway's pages as a browser would post them:
PMI number + birth date → e-mail + password → confirmation mail (notify-svc, sink) → link → login → agrément →
logout. Every service takes part: agrement-svc's import feeds identity's projection over the bus."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest
import requests

from services.testing import eventually
from tests.e2e.portal import write_demo_extract

DEMO_PMI_NUMBER, DEMO_BIRTH = "320000", ("12", "4", "1985")  # the demo's Marie DUPONT, renumbered
PASSWORD = "une phrase de passe assez longue"


@pytest.fixture(scope="module")
def demo_loaded(portal, tmp_path_factory):
    extract = tmp_path_factory.mktemp("activation") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=30, seed=28, first_pmi_number=int(DEMO_PMI_NUMBER))
    assert (rows[0]["last_name"], rows[0]["birth_date"]) == ("DUPONT", "1985-04-12")
    result = portal.run_import(extract)
    assert result.returncode == 0, result.stderr


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def page_text(response: requests.Response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def step_one(browser: requests.Session, portal, pmi_number: str, day: str, month: str, year: str):
    form = browser.get(portal.base_url + "/espace-pro/activation")
    return browser.post(portal.base_url + "/espace-pro/activation", data={
        "csrf_token": csrf(form.text), "pmi_number": pmi_number,
        "birth_date_day": day, "birth_date_month": month, "birth_date_year": year,
        **portal.captcha_fields(form.text)})


def log_in(browser: requests.Session, portal, pmi_number: str, password: str) -> requests.Response:
    """The login form as a person fills it: with the captcha when the page shows one (after a failure)."""
    form = browser.get(portal.base_url + "/espace-pro/connexion")
    response = browser.post(portal.base_url + "/espace-pro/connexion", data={
        "csrf_token": csrf(form.text), "pmi_number": pmi_number, "password": password,
        **portal.captcha_fields(form.text)})
    if response.status_code == 400 and 'id="captcha_answer-error"' in response.text:
        # identity asked for the captcha (failures from this address in other tests): the page now shows it.
        response = browser.post(portal.base_url + "/espace-pro/connexion", data={
            "csrf_token": csrf(response.text), "pmi_number": pmi_number, "password": password,
            **portal.captcha_fields(response.text)})
    return response


def test_unknown_number_wrong_birth_date_get_the_same_answer(portal, demo_loaded):
    def refusal(*args) -> str:
        response = step_one(requests.Session(), portal, *args)
        assert response.status_code in (200, 400)
        return re.search(r'<div class="error-summary.*?</div>', response.text, re.S).group(0)

    # Wait until identity learnt who may activate (the import's events cross the bus).
    portal.wait_for_holder(DEMO_PMI_NUMBER)
    assert refusal("999999", *DEMO_BIRTH) == refusal(DEMO_PMI_NUMBER, "13", "4", "1985")


def test_a_demo_assmat_activates_her_account_confirms_by_mail_logs_in_and_out(portal, demo_loaded):
    browser = requests.Session()
    email = "marie.dupont@example.org"
    portal.wait_for_holder(DEMO_PMI_NUMBER)
    checked = step_one(browser, portal, DEMO_PMI_NUMBER, *DEMO_BIRTH)
    assert checked.url.endswith("/espace-pro/activation/compte"), page_text(checked)[:500]

    account_form = browser.get(portal.base_url + "/espace-pro/activation/compte")
    short = browser.post(portal.base_url + "/espace-pro/activation/compte", data={
        "csrf_token": csrf(account_form.text), "email": email, "password": "trop court",
        "password_confirmation": "trop court"})
    assert "12 caractères" in page_text(short)

    correlation_id = "e2e-activation-0001"
    sent = browser.post(portal.base_url + "/espace-pro/activation/compte", headers={
        "X-Correlation-ID": correlation_id}, data={
        "csrf_token": csrf(short.text), "email": email, "password": PASSWORD, "password_confirmation": PASSWORD})
    assert sent.url.endswith("/espace-pro/activation/courriel-envoye"), page_text(sent)[:500]

    mail = eventually(lambda: portal.mails_to(email), timeout=30, message="no confirmation mail in the sink")[0]
    # The request's correlation id went gateway → identity (HTTP) → event → notify-svc's worker, in their logs.
    for log in ("gateway-web", "identity-web", "notify-worker"):
        lines = (portal.data_dir / "logs" / f"{log}.log").read_text(encoding="utf-8").splitlines()
        assert any(json.loads(line).get("correlation_id") == correlation_id
                   for line in lines if line.startswith("{")), f"{log} never logged the correlation id"
    assert "Confirmez" in mail["subject"]
    link = next(url for url in mail["links"] if "/espace-pro/activation/confirmer" in url)
    assert link.startswith(portal.base_url)

    # Not yet confirmed: login is refused with an explanation.
    early = log_in(browser, portal, DEMO_PMI_NUMBER, PASSWORD)
    assert "/espace-pro/connexion" in early.url and "e-mail" in page_text(early)

    confirmed = browser.get(link)
    assert confirmed.status_code == 200 and "activé" in page_text(confirmed)
    again = requests.get(link)
    assert "déjà été utilisé" in page_text(again)

    browser.get(portal.base_url + "/espace-pro/connexion")
    anonymous_cookie = browser.cookies.get("assmat_session")
    logged_in = log_in(browser, portal, DEMO_PMI_NUMBER, PASSWORD)
    assert logged_in.url.rstrip("/").endswith("/espace-pro"), page_text(logged_in)[:500]
    assert browser.cookies.get("assmat_session") != anonymous_cookie
    text = page_text(logged_in)
    assert "DUPONT" in text and DEMO_PMI_NUMBER in text and "Chartres" in text

    copied = browser.cookies.get("assmat_session")  # what a thief would have taken
    logged_out = browser.post(portal.base_url + "/espace-pro/deconnexion", data={"csrf_token": csrf(logged_in.text)})
    assert logged_out.status_code == 200
    assert "/espace-pro/connexion" in browser.get(portal.base_url + "/espace-pro").url
    thief = requests.Session()
    thief.cookies.set("assmat_session", copied)
    assert "/espace-pro/connexion" in thief.get(portal.base_url + "/espace-pro").url  # dead at once


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(portal, demo_loaded):
    browser = requests.Session()
    refused = log_in(browser, portal, DEMO_PMI_NUMBER, "pas le bon mot de passe")
    assert "Identifiant ou mot de passe incorrect" in page_text(refused)
