"""Fixtures of the gateway's tests: the app on test settings, with every downstream service faked by `responses`."""
from __future__ import annotations

import re

import pytest
import responses

from gateway import create_app
from gateway.settings import Settings
from services.settings import load

URLS = {"identity": "http://identity.test", "agrement": "http://agrement.test", "fiche": "http://fiche.test",
        "geo": "http://geo.test", "notify": "http://notify.test"}


CAPTCHA = {"id": "challenge-0001", "image": "/api/captcha/challenge-0001.png",
           "audio": "/api/captcha/challenge-0001.wav"}
SOLVED = {"captcha_id": "challenge-0001", "captcha_answer": "ak3fx"}


def calls_to(downstream, path: str) -> list:
    """The calls the gateway made to one path of a service, in order."""
    return [call for call in downstream.calls if call.request.url.split("?")[0].endswith(path)]
# Long and random enough for the production checks of the settings loader.
TEST_SECRET_KEY = "tK8vQ2mZr5Wc9LbN3xHd7YfJ1pGs4AeU6oRi0VkTnBq"


def make_settings(environment: str = "test", **extra: str) -> Settings:
    environ = {"ASSMAT_ENV": environment, "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
               **{f"GATEWAY_{name.upper()}_URL": url for name, url in URLS.items()}, **extra}
    return load(Settings, "gateway", environ=environ)


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def downstream():
    """Every HTTP call the gateway makes; an unregistered URL fails like a service that is down."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # Pages with a captcha ask identity for a challenge each time they are shown.
        mock.add(responses.POST, f"{URLS['identity']}/api/captcha", json=CAPTCHA, status=201)
        yield mock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def urls():
    return URLS


@pytest.fixture
def store_url(tmp_path):
    """The browser sessions' store: a SQLite file of the test's own (the real-server tests use Redis)."""
    return f"sqlite:///{tmp_path / 'gateway-sessions.sqlite3'}"


@pytest.fixture
def make_app(downstream, clock, store_url):
    """The gateway in another environment: `make_app("production")`."""
    def _make(environment: str = "test", **extra: str):
        app = create_app(make_settings(environment, **{"GATEWAY_STORE_URL": store_url, **extra}))
        app.extensions["gateway"].clock = clock
        return app
    return _make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


LOGIN_ANSWER = {"access_token": "access-1", "expires_in": 300, "refresh_token": "refresh-1",
                "account": {"id": "acc-1", "role": "assmat", "pmi_number": "280001",
                            "display_name": "Claire Martin", "email": "claire.martin@example.fr"}}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def csrf(client):
    """The CSRF token of the form on a page: `csrf("/espace-pro/connexion")`."""
    return lambda path: csrf_of(client.get(path).get_data(as_text=True))


@pytest.fixture
def log_in(client, downstream, csrf):
    """Log in through the real form, identity answering `answer`; returns the response."""
    def _log_in(answer: dict = LOGIN_ANSWER, **form):
        downstream.upsert(responses.POST, f"{URLS['identity']}/api/sessions", json=answer)
        data = {"pmi_number": "280001", "password": "un mot de passe long", **form,
                "csrf_token": csrf("/espace-pro/connexion")}
        return client.post("/espace-pro/connexion", data=data)
    return _log_in
