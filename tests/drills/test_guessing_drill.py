"""THE GUESSING DRILL: the takeover of issue 6 replayed against the defences, through the gateway's pages.

Both apps run in this process: the gateway's HTTP client reaches identity's WSGI app through a requests adapter,
from loopback (identity trusts it, as in the embedded run), so every header, status and page is the real one. The
attacker is given the best case: every captcha is solved (read through the test-only hook, as a solving farm
would), so only the throttling stands between her and the birth date.

Rules shown (identity.defences.domain):
- step 1: 5 wrong dates per PMI number per hour, then the number is locked 1 hour, right date included;
  10 failures per address per hour lock the address; the captcha is required on every attempt;
- X-Forwarded-For is believed only from the gateway's TRUSTED_PROXIES;
- login: 5 wrong passwords lock the identifier 15 minutes (right password included); after the lock the captcha
  stays required while failures remain in the hour; the right password with a solved captcha then opens it;
- failures above 30 a minute raise `security spike` (log line, counter in /api/security/summary, staff page).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from argon2 import PasswordHasher
from requests.structures import CaseInsensitiveDict

from gateway import create_app as create_gateway
from gateway.clients import Clients
from gateway.settings import Settings as GatewaySettings
from identity import create_app as create_identity
from identity.accounts.domain import credentials
from identity.adapters.orm import metadata
from identity.holders.consumers import project_agrement_holder
from identity.settings import Settings as IdentitySettings
from services.auth import issue_token
from services.catalogue import agrement as agrement_events
from services.db import kernel_tables
from services.inbox import handle_once
from services.settings import load

PMI_NUMBER, BIRTH_DATE = "280001", dt.date(1985, 4, 12)
PASSWORD = "une tartine au miel le matin"
IDENTITY_URL = "http://identity.drill"
PROXY = "10.0.0.1"


class WsgiAdapter(requests.adapters.BaseAdapter):
    """requests → a Flask app in this process, as if from loopback (where the gateway calls identity from)."""

    def __init__(self, app):
        super().__init__()
        self.client = app.test_client()

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        answer = self.client.open(url.path, query_string=url.query, method=request.method,
                                  headers=dict(request.headers), data=request.body,
                                  environ_base={"REMOTE_ADDR": "127.0.0.1"})
        response = requests.Response()
        response.status_code, response._content = answer.status_code, answer.data
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url, response.request, response.encoding = request.url, request, "utf-8"
        return response

    def close(self):
        pass


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def portal(tmp_path, monkeypatch):
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    identity = create_identity(IdentitySettings(environment="test",
                                                database_url=f"sqlite:///{tmp_path / 'identity.sqlite3'}"))
    container = identity.extensions["identity"]
    metadata.create_all(container.engine)
    container.clock = Clock()
    data = {name: None for name in agrement_events.AGREMENT_GRANTED.required}
    data.update(pmi_number=PMI_NUMBER, first_name="Claire", last_name="Martin", birth_date=BIRTH_DATE.isoformat(),
                status="active", changed_fields=[])
    handle_once(container.session_factory, project_agrement_holder,
                agrement_events.AGREMENT_GRANTED.build(PMI_NUMBER, data))

    def gateway(trusted_proxies: str = ""):
        settings = load(GatewaySettings, "gateway", environ={
            "ASSMAT_ENV": "test", "GATEWAY_SECRET_KEY": "drill-secret", "GATEWAY_IDENTITY_URL": IDENTITY_URL,
            "GATEWAY_TRUSTED_PROXIES": trusted_proxies})
        app = create_gateway(settings)
        http = requests.Session()
        http.mount(IDENTITY_URL, WsgiAdapter(identity))
        app.extensions["gateway"].clients = Clients.build(settings, http=http)
        return app

    yield identity, container, gateway
    container.engine.dispose()


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


class Browser:
    """One attacker's browser: a gateway test client at one address (behind the proxy or not)."""

    def __init__(self, gateway_app, identity_app, address: str, via_proxy: bool):
        self.client = gateway_app.test_client()
        self.identity = identity_app.test_client()
        self.environ = {"REMOTE_ADDR": PROXY if via_proxy else address}
        self.headers = {"X-Forwarded-For": address} if via_proxy else {"X-Forwarded-For": "192.0.2.1"}

    def get(self, path):
        return self.client.get(path, environ_base=self.environ, headers=self.headers)

    def post(self, path, data):
        return self.client.post(path, data=data, environ_base=self.environ, headers=self.headers)

    def solve(self, html: str) -> dict:
        challenge = _field(html, "captcha_id")
        answer = self.identity.get(f"/api/captcha/{challenge}/answer").json["answer"]
        return {"captcha_id": challenge, "captcha_answer": answer}

    def step_1(self, pmi_number: str, birth_date: dt.date, solve: bool = True, answer: str | None = None):
        html = self.get("/espace-pro/activation").get_data(as_text=True)
        captcha = self.solve(html) if solve else {"captcha_id": _field(html, "captcha_id"),
                                                  "captcha_answer": answer or ""}
        return self.post("/espace-pro/activation", {
            "csrf_token": _field(html, "csrf_token"), "pmi_number": pmi_number,
            "birth_date_day": str(birth_date.day), "birth_date_month": str(birth_date.month),
            "birth_date_year": str(birth_date.year), **captcha})


def _outcome(response) -> str:
    html = response.get_data(as_text=True)
    if response.status_code == 303:
        return "passed"
    if response.status_code == 429 and "Trop de tentatives" in html:
        return "throttled"
    if "ne permettent pas d&#39;activer un compte" in html:
        return "refused"
    if 'id="captcha_answer-error"' in html:
        return "captcha"
    return f"other {response.status_code}"


def _wrong_dates(count: int):
    day = dt.date(1960, 1, 1)
    while count:
        if day != BIRTH_DATE:
            yield day
            count -= 1
        day += dt.timedelta(days=1)


def _summary(identity_app, container):
    token = issue_token(container.keys.signing_key(), subject="staff-drill", role="support",
                        issuer=container.settings.token_issuer, audience=container.settings.token_audience,
                        lifetime_seconds=300)
    response = identity_app.test_client().get("/api/security/summary",
                                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.json, token


def test_guessing_a_birth_date_is_slow_visible_and_useless(portal, timeline, caplog):
    identity, container, make_gateway = portal
    caplog.set_level(logging.WARNING, logger="identity.defences")
    gateway = make_gateway(trusted_proxies=PROXY)
    dates = _wrong_dates(200)

    # 1. One address, 100 wrong birth dates for one PMI number.
    one = Browser(gateway, identity, "203.0.113.10", via_proxy=True)
    outcomes = [_outcome(one.step_1(PMI_NUMBER, next(dates))) for _ in range(100)]
    timeline.mark("100 wrong dates from one address")
    assert outcomes[:5] == ["refused"] * 5 and set(outcomes[5:]) == {"throttled"}
    timeline.figure("one address: answered / throttled", f"{outcomes.count('refused')} / {outcomes.count('throttled')}")

    # 2. Fifty addresses (forwarded by the trusted proxy), two wrong dates each: the number is locked for all.
    spread = [_outcome(Browser(gateway, identity, f"198.51.100.{n}", via_proxy=True).step_1(PMI_NUMBER, next(dates)))
              for n in range(1, 51) for _ in range(2)]
    timeline.mark("100 wrong dates from 50 addresses")
    assert set(spread) == {"throttled"}

    # 3. Fifty addresses spraying other numbers: each address is locked after 10 failures.
    per_address = []
    for n in range(1, 51):
        browser = Browser(gateway, identity, f"192.0.2.{n}", via_proxy=True)
        tries = [_outcome(browser.step_1(f"{300000 + n * 100 + k:06d}", BIRTH_DATE)) for k in range(12)]
        per_address.append(tries)
    timeline.mark("50 addresses x 12 numbers")
    assert all(tries[:10] == ["refused"] * 10 and tries[10:] == ["throttled"] * 2 for tries in per_address)

    # 4. The lock holds the right date too.
    assert _outcome(one.step_1(PMI_NUMBER, BIRTH_DATE)) == "throttled"

    # 5. Staff see it: the log line, the counter, the page.
    assert any(record.getMessage() == "security spike" for record in caplog.records)
    summary, token = _summary(identity, container)
    assert summary["spikes_last_day"] >= 1 and summary["failures_last_hour"] >= 700
    assert summary["by_action_last_hour"]["activation_check"]["throttled"] >= 195
    timeline.figure("summary", {key: summary[key] for key in ("failures_last_hour", "throttled_last_hour",
                                                               "spikes_last_day", "distinct_ips_failing_last_hour")})
    staff = gateway.test_client()
    with staff.session_transaction() as session:
        now = gateway.extensions["gateway"].clock()
        session.update(created_at=now, last_seen=now, access_token=token, refresh_token="r", access_expires_at=now + 300,
                       account={"id": "staff-drill", "role": "support", "pmi_number": None,
                                "display_name": "Support", "email": None})
    page = staff.get("/espace-pmi/securite").get_data(as_text=True)
    assert "pic" in page and f'data-counter="failures_last_hour">{summary["failures_last_hour"]}' in page

    # 6. Once the lock ends, the right date still needs the captcha.
    container.clock.now += dt.timedelta(minutes=61)
    owner = Browser(gateway, identity, "203.0.113.200", via_proxy=True)
    assert _outcome(owner.step_1(PMI_NUMBER, BIRTH_DATE, solve=False)) == "captcha"
    assert _outcome(owner.step_1(PMI_NUMBER, BIRTH_DATE, solve=False, answer="AAAAA")) == "captcha"
    direct = identity.test_client().post("/api/activation/check", json={"pmi_number": PMI_NUMBER,
                                                                         "birth_date": BIRTH_DATE.isoformat()})
    assert (direct.status_code, direct.json["error"]["code"]) == (428, "captcha_required")
    assert _outcome(owner.step_1(PMI_NUMBER, BIRTH_DATE)) == "passed"
    timeline.mark("right date with the captcha, after the lock")


def test_a_forged_forwarded_header_buys_nothing_without_a_trusted_proxy(portal):
    identity, container, make_gateway = portal
    gateway = make_gateway(trusted_proxies="")  # the default: no proxy in front of the gateway
    outcomes = []
    for n in range(15):
        browser = Browser(gateway, identity, "203.0.113.66", via_proxy=False)
        browser.headers = {"X-Forwarded-For": f"198.51.100.{n}"}  # a new address each time, says the header
        outcomes.append(_outcome(browser.step_1(f"{400000 + n:06d}", BIRTH_DATE)))
    assert outcomes[:10] == ["refused"] * 10 and outcomes[10:] == ["throttled"] * 5


def test_fifty_wrong_passwords_then_the_right_one(portal):
    """The login rule: locked after 5 failures, the right password refused while locked; after the lock it takes
    the captcha (the failures are still in the hour), and then it opens."""
    identity, container, make_gateway = portal
    api = identity.test_client()
    check = api.post("/api/activation/check", json={
        "pmi_number": PMI_NUMBER, "birth_date": BIRTH_DATE.isoformat(),
        **_solved(api)})
    api.post("/api/activation/complete", json={"ticket": check.json["ticket"], "email": "claire@free.fr",
                                                 "password": PASSWORD})
    outbox, _ = kernel_tables(sa.MetaData())
    with container.session_factory() as session:
        payload = session.execute(sa.select(outbox.c.payload).where(
            outbox.c.event_type == "identity.email_confirmation_requested")).scalars().all()[-1]
    link = json.loads(payload)["data"]["confirmation_url"]
    assert api.post("/api/activation/confirm", json={"token": link.split("jeton=")[1]}).status_code == 200

    gateway = make_gateway(trusted_proxies=PROXY)
    browser = Browser(gateway, identity, "203.0.113.77", via_proxy=True)

    def log_in(password: str, solve: bool = True) -> tuple[int, str]:
        html = browser.get("/espace-pro/connexion").get_data(as_text=True)
        captcha = browser.solve(html) if (solve and "captcha_id" in html) else {}
        response = browser.post("/espace-pro/connexion", {"csrf_token": _field(html, "csrf_token"),
                                                          "pmi_number": PMI_NUMBER, "password": password, **captcha})
        text = response.get_data(as_text=True)
        kind = ("in" if response.status_code == 303 else "throttled" if "Trop de tentatives" in text
                else "wrong" if "Identifiant ou mot de passe incorrect" in text
                else "captcha" if 'id="captcha_answer-error"' in text else f"other {response.status_code}")
        return response.status_code, kind

    results = [log_in(f"pas le bon mot de passe {n}")[1] for n in range(50)]
    assert results[:5] == ["wrong"] * 5 and set(results[5:]) == {"throttled"}
    assert log_in(PASSWORD) == (429, "throttled")
    container.clock.now += dt.timedelta(minutes=16)
    assert log_in(PASSWORD, solve=False)[1] == "captcha"
    assert log_in(PASSWORD) == (303, "in")


def _solved(api) -> dict:
    challenge = api.post("/api/captcha").json["id"]
    return {"captcha_id": challenge, "captcha_answer": api.get(f"/api/captcha/{challenge}/answer").json["answer"]}
