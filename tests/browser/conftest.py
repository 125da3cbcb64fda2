"""What every browser test shares: Debian's Chromium driven by Playwright (it cannot download a browser here), and
screenshots kept in test-artifacts/ to look at."""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from identity.staff.domain import totp
from services.testing import eventually

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("ASSMAT_REQUIRE_REAL_SERVERS") == "1":
            pytest.fail(f"{CHROMIUM} is missing: ./portal test installs it with apt-get when run as root")
        pytest.skip(f"BROWSER TIER NOT RUN: {CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# --- accounts shared by the browser tests of issue 7 (reports, back office) -----------------------------------------
# An assmat activated through the pages (the captcha solved by the dev hook), PMI staff created by the identity CLI
# with their TOTP secret, and both logged in through their own login pages.

STAFF_PASSWORD = "la phrase de passe de la circonscription"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def activate_holder(portal, row: dict, password: str) -> str:
    """Activates the imported holder of `row` through the activation pages; returns the account's e-mail."""
    portal.wait_for_holder(row["pmi_number"])
    year, month, day = row["birth_date"].split("-")
    email = f"holder.{uuid.uuid4().hex[:8]}@example.org"   # no word of the password in it (policy)
    browser = requests.Session()
    form = browser.get(portal.base_url + "/espace-pro/activation")
    checked = browser.post(portal.base_url + "/espace-pro/activation", data={
        "csrf_token": csrf(form.text), "pmi_number": row["pmi_number"], "birth_date_day": str(int(day)),
        "birth_date_month": str(int(month)), "birth_date_year": year, **portal.captcha_fields(form.text)})
    assert checked.url.endswith("/activation/compte"), checked.text[:300]
    sent = browser.post(portal.base_url + "/espace-pro/activation/compte", data={
        "csrf_token": csrf(checked.text), "email": email, "password": password, "password_confirmation": password})
    assert sent.url.endswith("/courriel-envoye")
    mail = eventually(lambda: portal.mails_to(email), timeout=30, message="no confirmation mail")[0]
    assert "activé" in browser.get(next(u for u in mail["links"] if "/activation/confirmer" in u)).text
    return email


def staff_account(portal, circonscription: str | None = None, role: str = "pmi_agent") -> dict:
    """A staff account (a pmi_agent of `circonscription` by default), created by `python -m identity staff create`,
    its password set by its link."""
    email = f"{role}.{(circonscription or 'central').lower()}.{uuid.uuid4().hex[:6]}@cd28.example.org"
    scope = ["--circonscription", circonscription] if circonscription else []
    created = subprocess.run([sys.executable, "-m", "identity", "staff", "create", "--email", email, "--name",
                              f"Agent {circonscription or role}", "--role", role, *scope],
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


def assmat_login(portal, page, pmi_number: str, password: str) -> None:
    page.goto(portal.base_url + "/espace-pro/connexion")
    for _attempt in range(2):
        page.get_by_label("Numéro de dossier PMI").fill(pmi_number)
        page.get_by_label("Mot de passe").fill(password)
        if page.locator("input[name=captcha_id]").count():   # after failed logins from this address
            challenge = page.locator("input[name=captcha_id]").get_attribute("value")
            page.get_by_label("Caractères de l'image").fill(portal.captcha_answer(challenge))
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        if "/connexion" not in page.url:
            break
    page.wait_for_url("**/espace-pro")


def declare_arrival(page, portal, name: str, birth: dt.date, start: dt.date) -> None:
    """Fills and sends the Contrats tab's arrival form: Mondays 8:00-17:30, one legal representative."""
    page.goto(portal.base_url + "/espace-pro/contrats/nouveau")
    page.get_by_label("Prénom de l'enfant").fill(name)
    page.get_by_label("Date de naissance de l'enfant").fill(birth.isoformat())
    page.get_by_label("Date d'arrivée").fill(start.isoformat())
    page.get_by_label("Lundi, arrivée").fill("08:00")
    page.get_by_label("Lundi, départ").fill("17:30")
    page.get_by_label("Nom du représentant 1").fill("Camille Parent")
    page.get_by_label("Téléphone du représentant 1").fill("06 12 34 56 78")
    page.get_by_role("button", name="Déclarer l'arrivée").click()
    page.wait_for_load_state()
