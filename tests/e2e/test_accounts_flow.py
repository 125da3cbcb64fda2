"""Accounts on the real stack (PostgreSQL, RabbitMQ, every service as its own process), through the gateway's pages
as a browser posts them: an RPE from the structures extract sets its first password by "mot de passe oublié" and
logs in by e-mail and is told its password changed; a PMI agent created by command logs in with password
and TOTP at /espace-pmi, and the same code is refused the second time."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
import uuid
from html import unescape
from urllib.parse import parse_qs, urlsplit

import requests

from identity.staff.domain import totp
from services.testing import eventually

PASSWORD = "une phrase de passe pour la suite"
HEADER = "type;structure_id;name;email;phone;address_line;postcode;commune_insee;communes;opening_hours;status"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def text(response: requests.Response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def post_form(browser: requests.Session, url: str, data: dict) -> requests.Response:
    return browser.post(url, data={**data, "csrf_token": csrf(browser.get(url).text)})


def reset_link(mail: dict) -> str:
    found = re.search(r"https?://\S+/espace-pro/mot-de-passe-oublie/nouveau\?jeton=[\w-]+", str(mail))
    assert found, mail
    return found.group(0)


def test_an_rpe_gets_its_first_password_by_reset_and_logs_in_by_email(portal, tmp_path):
    tag = uuid.uuid4().hex[:8]
    email = f"rpe.{tag}@example.org"
    extract = tmp_path / "structures.csv"
    extract.write_text(f"{HEADER}\nRPE;RPE-E2E-{tag};Relais {tag};{email};02 37 00 00 09;;;;28085,28218;"
                       "mardi 9 h – 12 h;open\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "agrement", "import-structures", str(extract)], env=portal.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    browser = requests.Session()
    asked = portal.base_url + "/espace-pro/mot-de-passe-oublie"

    def mailed() -> bool:
        response = post_form(browser, asked, {"email": email, "account_type": "rpe"})
        assert "Si un compte de ce type existe" in text(response)
        time.sleep(1)
        return bool(portal.mails_to(email))

    eventually(mailed, timeout=60, message="no reset mail for the RPE")
    link = reset_link(portal.mails_to(email)[0])
    assert link.startswith(portal.base_url)
    page = browser.get(link)
    assert f"Relais {tag}" in text(page)
    done = browser.post(link.split("?")[0], data={"jeton": parse_qs(urlsplit(link).query)["jeton"][0],
                                                  "password": PASSWORD, "password_confirmation": PASSWORD,
                                                  "csrf_token": csrf(page.text)})
    assert "Votre mot de passe est enregistré" in text(done)
    logged = post_form(browser, portal.base_url + "/espace-pro/connexion", {"login": email, "password": PASSWORD})
    assert logged.url.endswith("/espace-pro") and "Votre relais petite enfance" in text(logged)
    eventually(lambda: len(portal.mails_to(email)) >= 2, timeout=30, message="no 'mot de passe changé' mail")
    assert "Votre mot de passe a été changé" in str(portal.mails_to(email))


def test_a_pmi_agent_logs_in_with_password_and_totp_and_a_code_serves_once(portal):
    email = f"agent.{uuid.uuid4().hex[:8]}@cd28.example.org"
    created = subprocess.run([sys.executable, "-m", "identity", "staff", "create", "--email", email, "--name",
                              "Agnès Agent", "--role", "pmi_agent", "--circonscription", "Chartres"],
                             env=portal.env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    secret = parse_qs(urlsplit(re.search(r"otpauth://\S+", created.stdout).group(0)).query)["secret"][0]
    link = re.search(r"https?://\S+jeton=\S+", created.stdout).group(0)
    browser = requests.Session()
    page = browser.get(link.replace("http://127.0.0.1:8000", portal.base_url))
    done = browser.post(portal.base_url + "/espace-pro/mot-de-passe-oublie/nouveau", data={
        "jeton": link.split("jeton=")[1], "password": PASSWORD, "password_confirmation": PASSWORD,
        "csrf_token": csrf(page.text)})
    assert "Votre mot de passe est enregistré" in text(done)

    # Stay clear of a step boundary: the code must be the same for both attempts.
    while time.time() % 30 > 25:
        time.sleep(1)
    code = totp(secret, dt.datetime.now(dt.timezone.utc))
    login_url = portal.base_url + "/espace-pmi/connexion"
    home = post_form(browser, login_url, {"email": email, "password": PASSWORD, "totp": code})
    assert home.url.endswith("/espace-pmi"), text(home)
    assert "Agnès Agent" in text(home) and "Agent de circonscription" in text(home) and "Chartres" in text(home)
    other = requests.Session()
    replay = post_form(other, login_url, {"email": email, "password": PASSWORD, "totp": code})
    assert replay.status_code == 400 and "attendez le suivant" in text(replay)
