"""Fixtures shared by identity's tests: an app on a SQLite file in tmp_path, a clock the tests move, agrément
events as agrement-svc publishes them, and the outbox as notify-svc would read it."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from identity import create_app
from identity.adapters.orm import metadata
from identity.accounts.domain import credentials
from identity.holders.consumers import project_agrement_holder
from identity.settings import Settings
from services.catalogue import agrement as agrement_events
from services.db import kernel_tables
from services.inbox import handle_once

OUTBOX, _ = kernel_tables(sa.MetaData())
PASSWORD = "correct horse battery"
BIRTH_DATE = "1980-05-17"


def agrement_event(pmi_number: str, spec=agrement_events.AGREMENT_GRANTED, *, occurred_at: dt.datetime | None = None,
                   **fields):
    data = {name: None for name in spec.required}
    data.update(pmi_number=pmi_number, first_name="Marie", last_name="Dupont", birth_date=BIRTH_DATE,
                status="active", changed_fields=[])
    data.update(fields)
    event = spec.build(pmi_number, data)
    if occurred_at is not None:
        event = type(event)(**{**event.to_dict(), "occurred_at": occurred_at.isoformat()})
    return event


def outbox_events(session_factory, event_type: str) -> list[dict]:
    with session_factory() as session:
        payloads = session.execute(sa.select(OUTBOX.c.payload).where(OUTBOX.c.event_type == event_type)
                                   .order_by(OUTBOX.c.position)).scalars().all()
    return [json.loads(payload) for payload in payloads]


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


def solved_captcha(client) -> dict:
    """A captcha solved as a person would, through the test-only hook (ASSMAT_ENV=test)."""
    challenge = client.post("/api/captcha").json["id"]
    answer = client.get(f"/api/captcha/{challenge}/answer").json["answer"]
    return {"captcha_id": challenge, "captcha_answer": answer.lower()}


class ActivationFlow:
    """The three steps of activation as the gateway drives them, for tests about what comes after."""

    def __init__(self, client, grant, container):
        self.client, self.grant, self.container = client, grant, container

    def ticket(self, pmi_number: str = "123456", birth_date: str = BIRTH_DATE) -> str:
        response = self.client.post("/api/activation/check", json={"pmi_number": pmi_number, "birth_date": birth_date,
                                                                   **solved_captcha(self.client)})
        assert response.status_code == 200, response.json
        return response.json["ticket"]

    def last_link_token(self) -> str:
        url = outbox_events(self.container.session_factory, "identity.email_confirmation_requested")[-1]["data"][
            "confirmation_url"]
        return url.split("jeton=", 1)[1]

    def complete(self, pmi_number: str = "123456", email: str = "marie.dupont@orange.fr",
                 password: str = PASSWORD) -> str:
        """Steps 1 and 2; returns the token of the link mailed."""
        response = self.client.post("/api/activation/complete", json={
            "ticket": self.ticket(pmi_number), "email": email, "password": password})
        assert response.status_code == 201, response.json
        return self.last_link_token()

    def activate(self, pmi_number: str = "123456", **complete) -> None:
        response = self.client.post("/api/activation/confirm", json={"token": self.complete(pmi_number, **complete)})
        assert response.status_code == 200, response.json

    def login(self, pmi_number: str = "123456", password: str = PASSWORD, captcha: bool = False):
        extra = solved_captcha(self.client) if captcha else {}
        return self.client.post("/api/sessions", json={"pmi_number": pmi_number, "password": password, **extra})


@pytest.fixture(params=["sqlite", "postgresql"])
def settings_on_both_stacks(request, tmp_path) -> Settings:
    """Both stacks: the embedded default's SQLite and PostgreSQL (a fresh database per test). A module runs its
    tests on both by overriding `settings` with this one."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'identity.sqlite3'}"
    else:
        url = request.getfixturevalue("real_servers").database("identity_accounts")
    return Settings(environment="test", database_url=url, public_base_url="https://assmat.example.fr")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(environment="test", database_url=f"sqlite:///{tmp_path / 'identity.sqlite3'}",
                    public_base_url="https://assmat.example.fr")


@pytest.fixture
def app(settings, monkeypatch):
    # The production cost (64 MiB, 3 passes) takes seconds on a loaded test machine; the API tests are about
    # behaviour, so they hash with the same algorithm at a token cost.
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app = create_app(settings)
    metadata.create_all(app.extensions["identity"].engine)
    yield app
    app.extensions["identity"].engine.dispose()


@pytest.fixture
def container(app):
    return app.extensions["identity"]


@pytest.fixture
def clock(container) -> Clock:
    container.clock = Clock()
    return container.clock


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def grant(container):
    """Deliver an agrément event to identity as its worker would."""
    def deliver(pmi_number: str, spec=agrement_events.AGREMENT_GRANTED, **fields):
        event = agrement_event(pmi_number, spec, **fields)
        handle_once(container.session_factory, project_agrement_holder, event)
        return event
    return deliver


@pytest.fixture
def outbox(container):
    return lambda event_type: outbox_events(container.session_factory, event_type)


@pytest.fixture
def make_agrement_event():
    return agrement_event


@pytest.fixture
def flow(client, grant, container) -> ActivationFlow:
    grant("123456")
    return ActivationFlow(client, grant, container)
