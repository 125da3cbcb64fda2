"""A cookie copied from a logged-in Chromium is dead the moment its owner logs out: another browser replaying it at
once gets the login page (the gateway's sessions are server-side; logout deletes them and revokes identity's
refresh session). The account is activated over plain HTTP, the way the end-to-end tests post the forms; the
login, the copy, the logout and the replay happen in Chromium."""
from __future__ import annotations

import re

import pytest
import requests

from services.testing import eventually
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une longue phrase pour le cookie copié"  # nothing of the e-mail in it (password policy)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def active_account(portal, tmp_path_factory) -> str:
    """An assmat whose account is active; returns her PMI number."""
    extract = tmp_path_factory.mktemp("replay") / "demo.csv"
    rows = write_demo_extract(portal, extract, count=5, seed=7, first_pmi_number=350000, name_tag="-REJEU")
    assert portal.run_import(extract).returncode == 0
    row = next(r for r in rows if r["status"] == "active")
    year, month, day = row["birth_date"].split("-")
    email = f"rejeu.{row['pmi_number']}@example.org"
    http = requests.Session()

    # Step 1 once identity knows her (earlier tries would count as failures and lock the number), captcha solved.
    portal.wait_for_holder(row["pmi_number"])
    form = http.get(portal.base_url + "/espace-pro/activation")
    answer = http.post(portal.base_url + "/espace-pro/activation", data={
        "csrf_token": _csrf(form.text), "pmi_number": row["pmi_number"], "birth_date_day": day,
        "birth_date_month": month, "birth_date_year": year, **portal.captcha_fields(form.text)})
    assert answer.url.endswith("/espace-pro/activation/compte"), answer.text[:300]
    form = http.get(portal.base_url + "/espace-pro/activation/compte")
    sent = http.post(portal.base_url + "/espace-pro/activation/compte", data={
        "csrf_token": _csrf(form.text), "email": email, "password": PASSWORD, "password_confirmation": PASSWORD})
    assert sent.url.endswith("/courriel-envoye")
    mail = eventually(lambda: portal.mails_to(email), timeout=30, message="no confirmation mail")[0]
    link = next(url for url in mail["links"] if "/espace-pro/activation/confirmer" in url)
    assert "activé" in http.get(link).text
    return row["pmi_number"]


def test_a_cookie_copied_before_logout_gets_the_login_page_when_replayed_after(portal, chromium, active_account):
    owner = chromium.new_context(locale="fr-FR")
    page = owner.new_page()
    page.goto(portal.base_url + "/espace-pro/connexion")
    page.get_by_label("Numéro de dossier PMI").fill(active_account)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace-pro")
    copied = [cookie for cookie in owner.cookies() if cookie["name"].endswith("assmat_session")]
    assert copied and copied[0]["httpOnly"] and copied[0]["sameSite"] == "Lax"

    # The thief's browser works with the copy while the owner is still logged in...
    thief = chromium.new_context(locale="fr-FR")
    thief.add_cookies(copied)
    stolen = thief.new_page()
    stolen.goto(portal.base_url + "/espace-pro")
    assert stolen.url.rstrip("/").endswith("/espace-pro") and "Se déconnecter" in stolen.content()

    # ...until the owner logs out: replayed at once, the same cookie gets the login page.
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(portal.base_url + "/")
    assert "Vous êtes déconnecté" in page.content()
    thief.clear_cookies()
    thief.add_cookies(copied)
    stolen.goto(portal.base_url + "/espace-pro")
    assert "/espace-pro/connexion" in stolen.url
    assert "Se déconnecter" not in stolen.content()
    owner.close()
    thief.close()
