"""Issue 7 in Chromium, every service on the real servers: an assmat reads her Agrément tab and reports a move
(with a PDF); an agent of her circonscription finds the report in the back office, opens it and takes it in hand;
an agent of another circonscription does not see it. Screenshots in test-artifacts/.

Declaring a contract is the other half of issue 7 (branch w4-contracts): the integrator adds its steps here."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from identity.staff.domain import totp
from services.testing import eventually
from tests.browser.conftest import shot
from tests.e2e.portal import write_demo_extract

pytestmark = pytest.mark.browser
PASSWORD = "une phrase de passe pour signaler"
STAFF_PASSWORD = "la phrase de passe de la circonscription"
FIRST_PMI_NUMBER = 370000   # this module's own range (the portal is shared by the run's tests)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def holder(portal, tmp_path_factory):
    """The demo's Marie DUPONT (Chartres) renumbered, imported, and her account activated through the pages."""
    extract = tmp_path_factory.mktemp("reports") / "demo.csv"
    row = write_demo_extract(portal, extract, count=5, seed=7, first_pmi_number=FIRST_PMI_NUMBER)[0]
    assert (row["last_name"], row["circonscription"]) == ("DUPONT", "Chartres")
    assert portal.run_import(extract).returncode == 0
    portal.wait_for_holder(row["pmi_number"])
    email = f"holder.{uuid.uuid4().hex[:8]}@example.org"   # no word of the password in it (policy)
    browser = requests.Session()
    form = browser.get(portal.base_url + "/espace-pro/activation")
    checked = browser.post(portal.base_url + "/espace-pro/activation", data={
        "csrf_token": csrf(form.text), "pmi_number": row["pmi_number"], "birth_date_day": "12",
        "birth_date_month": "4", "birth_date_year": "1985", **portal.captcha_fields(form.text)})
    assert checked.url.endswith("/activation/compte"), checked.text[:300]
    sent = browser.post(portal.base_url + "/espace-pro/activation/compte", data={
        "csrf_token": csrf(checked.text), "email": email, "password": PASSWORD, "password_confirmation": PASSWORD})
    assert sent.url.endswith("/courriel-envoye")
    mail = eventually(lambda: portal.mails_to(email), timeout=30, message="no confirmation mail")[0]
    assert "activé" in browser.get(next(u for u in mail["links"] if "/activation/confirmer" in u)).text
    return row


def staff_account(portal, circonscription: str) -> dict:
    email = f"agent.{circonscription.lower()}.{uuid.uuid4().hex[:6]}@cd28.example.org"
    created = subprocess.run([sys.executable, "-m", "identity", "staff", "create", "--email", email, "--name",
                              f"Agent {circonscription}", "--role", "pmi_agent", "--circonscription", circonscription],
                             env=portal.env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    secret = parse_qs(urlsplit(re.search(r"otpauth://\S+", created.stdout).group(0)).query)["secret"][0]
    link = re.search(r"https?://\S+jeton=\S+", created.stdout).group(0)
    browser = requests.Session()
    page = browser.get(link.replace("http://127.0.0.1:8000", portal.base_url))
    done = browser.post(portal.base_url + "/espace-pro/mot-de-passe-oublie/nouveau", data={
        "jeton": link.split("jeton=")[1], "password": STAFF_PASSWORD, "password_confirmation": STAFF_PASSWORD,
        "csrf_token": csrf(page.text)})
    assert done.status_code == 200
    return {"email": email, "secret": secret}


def staff_login(portal, page, account: dict) -> None:
    while time.time() % 30 > 25:   # a code near the end of its step could expire on the way
        time.sleep(1)
    page.goto(portal.base_url + "/espace-pmi/connexion")
    page.get_by_label("Adresse e-mail").fill(account["email"])
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.locator("input[name=totp]").fill(totp(account["secret"], dt.datetime.now(dt.timezone.utc)))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/espace-pmi")


def assmat_login(portal, page, pmi_number: str) -> None:
    page.goto(portal.base_url + "/espace-pro/connexion")
    for _attempt in range(2):
        page.get_by_label("Numéro de dossier PMI").fill(pmi_number)
        page.get_by_label("Mot de passe").fill(PASSWORD)
        if page.locator("input[name=captcha_id]").count():   # after failed logins from this address
            challenge = page.locator("input[name=captcha_id]").get_attribute("value")
            page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        if "/connexion" not in page.url:
            break
    page.wait_for_url("**/espace-pro")


def test_a_reported_move_reaches_the_agent_of_her_circonscription_and_no_other(portal, chromium, holder):
    chartres, dreux = staff_account(portal, "Chartres"), staff_account(portal, "Dreux")
    assmat = chromium.new_context(locale="fr-FR").new_page()
    assmat_login(portal, assmat, holder["pmi_number"])
    assmat.get_by_role("link", name="Agrément", exact=True).click()
    assmat.wait_for_url("**/espace-pro/agrement")
    assert "Historique de l'agrément" in assmat.content() and holder["pmi_number"] in assmat.content()
    shot(assmat, "agrement-tab")

    assmat.get_by_role("link", name="Signaler un changement").click()
    assmat.wait_for_url("**/espace-pro/signalements")
    assmat.get_by_role("radio", name="Déménagement").check()
    # Too close: R421-41's 15 days are told beside the date, and what was typed stays.
    soon = dt.date.today() + dt.timedelta(days=5)
    assmat.locator("#moving_date").fill(str(soon.day))
    assmat.locator("#moving_date-month").fill(str(soon.month))
    assmat.locator("#moving_date-year").fill(str(soon.year))
    assmat.get_by_label("Nouvelle adresse").fill("3 rue des Lilas")
    assmat.get_by_label("Code postal", exact=True).fill("28000")
    assmat.get_by_label("Commune", exact=True).fill("Chartres")
    assmat.get_by_role("button", name="Envoyer le signalement").click()
    assmat.wait_for_load_state()
    assert "R421-41" in assmat.locator("#moving_date-error").inner_text()
    assert assmat.get_by_label("Nouvelle adresse").input_value() == "3 rue des Lilas"
    shot(assmat, "report-refused-15-days")

    later = dt.date.today() + dt.timedelta(days=30)
    assmat.get_by_role("radio", name="Déménagement").check()
    assmat.locator("#moving_date").fill(str(later.day))
    assmat.locator("#moving_date-month").fill(str(later.month))
    assmat.locator("#moving_date-year").fill(str(later.year))
    assmat.locator("#attachments").set_input_files(files=[{
        "name": "bail.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}])
    assmat.get_by_role("button", name="Envoyer le signalement").click()
    assmat.wait_for_load_state()
    assert "Votre signalement est envoyé" in assmat.content()
    assert assmat.locator("table").get_by_text("Déménagement").count() == 1
    shot(assmat, "report-sent")

    agent = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, agent, chartres)
    agent.get_by_role("link", name="Signalements", exact=True).first.click()
    agent.wait_for_url("**/espace-pmi/signalements")
    row = agent.locator("tr", has_text=holder["pmi_number"])
    assert row.count() == 1 and "Déménagement" in row.inner_text()
    shot(agent, "backoffice-reports-chartres")
    row.get_by_role("link").click()
    agent.wait_for_load_state()
    assert "3 rue des Lilas" in agent.content() and "bail.pdf" in agent.content()
    agent.get_by_label("Prendre en charge").check()
    agent.get_by_role("button", name="Enregistrer").click()
    agent.wait_for_load_state()
    assert "En cours de traitement" in agent.content()
    shot(agent, "backoffice-report-in-progress")

    other = chromium.new_context(locale="fr-FR").new_page()
    staff_login(portal, other, dreux)
    other.goto(portal.base_url + "/espace-pmi/signalements")
    assert other.locator("tr", has_text=holder["pmi_number"]).count() == 0
    shot(other, "backoffice-reports-dreux")
    report_path = urlsplit(agent.url).path
    assert other.goto(portal.base_url + report_path).status == 404

    # The assmat sees the new step in her list.
    assmat.reload()
    assert "En cours de traitement" in assmat.locator("table").inner_text()
    for page in (assmat, agent, other):
        page.context.close()
