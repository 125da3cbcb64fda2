"""The delivery log and bounce recording over HTTP: staff roles only, filters checked, never the message."""
import datetime as dt

import pytest
import responses
import sqlalchemy as sa

from notify import create_app
from notify.adapters.orm import failing_addresses, mails
from notify.mails.consumers import make_handlers
from notify.mails.delivery import Sender
from notify.settings import load_settings
from services.auth import generate_signing_key, issue_token, public_jwks
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import upgrade
from services.inbox import handle_once

JWKS = "http://identity.test/.well-known/jwks.json"


@pytest.fixture
def app(local_environ):
    settings = load_settings({**local_environ, "IDENTITY_JWKS_URL": JWKS})
    upgrade(settings.database_url, "notify:migrations")
    return create_app(settings)


@pytest.fixture
def container(app):
    return app.extensions["notify"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def bearer(key, role):
    token = issue_token(key, subject="staff-1", role=role, issuer="assmat-identity", audience="assmat-portal",
                        lifetime_seconds=60)
    return {"Authorization": f"Bearer {token}"}


def _mail(container, event, send=True):
    handle_once(container.session_factory, make_handlers(container.sender)[EMAIL_CONFIRMATION_REQUESTED.type], event)
    if send:
        Sender(container.session_factory, container.transport, container.sender.addr_spec, [0.0]).drain()


def test_staff_read_who_got_which_mail_when_and_its_status(client, container, key, confirmation_event):
    _mail(container, confirmation_event(email="a@example.org"))
    _mail(container, confirmation_event(email="b@example.org"), send=False)

    answer = client.get("/api/mails", headers=bearer(key, "support"))

    assert answer.status_code == 200
    rows = answer.get_json()["mails"]
    assert sorted((row["recipient"], row["kind"], row["status"]) for row in rows) == [
        ("a@example.org", "email_confirmation", "sent"), ("b@example.org", "email_confirmation", "queued")]
    assert all(dt.datetime.fromisoformat(row["created_at"]).tzinfo for row in rows)
    assert not any("payload" in row or "s3cr3t" in str(row) for row in rows)  # never the message or its link
    only_b = client.get("/api/mails?recipient=B@example.org&status=queued", headers=bearer(key, "admin"))
    assert [row["recipient"] for row in only_b.get_json()["mails"]] == ["b@example.org"]
    assert client.get("/api/mails?kind=password_reset", headers=bearer(key, "pmi_central")).get_json() == \
        {"mails": []}


@pytest.mark.parametrize("query, code", [("limit=0", "invalid_limit"), ("limit=abc", "invalid_limit"),
                                         ("status=perdu", "invalid_status"), ("since=hier", "invalid_since"),
                                         ("kind=a%0Ab", "invalid_kind")])
def test_bad_filters_are_a_400_in_french(client, key, query, code):
    answer = client.get(f"/api/mails?{query}", headers=bearer(key, "support"))
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == code


def test_other_roles_and_anonymous_get_nothing(client, key):
    assert client.get("/api/mails").status_code == 401
    assert client.get("/api/mails", headers=bearer(key, "assmat")).status_code == 403
    assert client.get("/api/mails", headers=bearer(key, "pmi_agent")).status_code == 403
    assert client.post("/api/mails/bounces", json={"address": "a@example.org", "reason": "x"},
                       headers=bearer(key, "mam")).status_code == 403


def test_a_recorded_bounce_stops_mail_to_that_address(client, container, key, confirmation_event):
    answer = client.post("/api/mails/bounces", headers=bearer(key, "support"),
                         json={"address": "Marie.Dupont@orange.fr", "reason": "550 5.1.1 boîte inexistante"})
    assert answer.status_code == 201
    assert answer.get_json()["address"] == "marie.dupont@orange.fr"

    _mail(container, confirmation_event(email="marie.dupont@orange.fr"))

    assert list(container.transport.messages()) == []
    with container.session_factory() as session:
        assert session.execute(sa.select(mails.c.status)).scalar() == "failed"
        assert session.execute(sa.select(failing_addresses.c.source)).scalar() == "bounce"


@pytest.mark.parametrize("body, code", [({"address": "pas une adresse", "reason": "x"}, "invalid_address"),
                                        ({"address": "a@example.org\r\nBcc: x@y.fr", "reason": "x"},
                                         "invalid_address"),
                                        ({"address": "a@example.org", "reason": "  "}, "invalid_reason"),
                                        (["a@example.org"], "invalid_body")])
def test_a_bad_bounce_is_a_400(client, key, body, code):
    answer = client.post("/api/mails/bounces", json=body, headers=bearer(key, "support"))
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == code


def test_the_bounce_command_marks_the_address(local_environ, capsys):
    from notify.mails.commands import mails_command
    settings = load_settings(local_environ)
    upgrade(settings.database_url, "notify:migrations")
    assert mails_command(settings, ["bounce", "a@example.org", "--reason", "boîte pleine depuis 30 jours"]) == 0
    assert mails_command(settings, ["bounce", "pas-une-adresse", "--reason", "x"]) == 2
    assert "marquée en échec" in capsys.readouterr().out
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.execute(sa.select(failing_addresses.c.address, failing_addresses.c.source)).all() == \
            [("a@example.org", "bounce")]
    engine.dispose()
