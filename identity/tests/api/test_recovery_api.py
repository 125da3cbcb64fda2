"""Forgotten password through the HTTP API: same answer whether the account exists, single-use hashed link, every
session ended, the owner told; a pending assmat's address confirmed by the link."""
import pytest
import sqlalchemy as sa

from identity.accounts.domain.credentials import hash_secret
from identity.adapters.orm import accounts, password_resets
from identity.recovery import domain as recovery_domain
from identity.settings import Settings


@pytest.fixture
def settings(settings_on_both_stacks) -> Settings:
    return settings_on_both_stacks


NEW_PASSWORD = "une phrase de passe neuve"


def ask(client, email="marie.dupont@orange.fr", account_type="assmat"):
    return client.post("/api/recovery/request", json={"email": email, "account_type": account_type})


def reset_token(outbox) -> str:
    return outbox("identity.password_reset_requested")[-1]["data"]["reset_url"].split("jeton=", 1)[1]


def test_same_answer_for_a_known_and_an_unknown_address_and_a_link_only_for_the_known(client, flow, outbox,
                                                                                   monkeypatch):
    monkeypatch.setattr(recovery_domain, "MIN_ANSWER_SECONDS", 0)
    flow.activate()
    answers = [ask(client), ask(client, email="nobody@orange.fr"), ask(client, account_type="mam"),
               ask(client, email="MARIE.DUPONT@orange.fr ")]
    assert {(r.status_code, r.data) for r in answers} == {(202, answers[0].data)}
    mails = outbox("identity.password_reset_requested")
    assert len(mails) == 2  # the assmat account, twice; nothing for the unknown address or the wrong type
    data = mails[0]["data"]
    assert data["email"] == "marie.dupont@orange.fr" and data["account_type"] == "assmat"
    assert data["reset_url"].startswith("https://assmat.example.fr/espace-pro/mot-de-passe-oublie/nouveau?jeton=")
    assert data["first_password"] is False and "password" not in {k for k in data if k != "first_password"}


def test_the_link_is_stored_hashed_and_sets_the_password_once(client, flow, outbox, container):
    flow.activate()
    ask(client)
    token = reset_token(outbox)
    with container.session_factory() as session:
        stored = session.execute(sa.select(password_resets.c.token_hash)).scalars().all()
    assert stored == [hash_secret(token)] and token not in stored

    checked = client.post("/api/recovery/check", json={"token": token})
    assert checked.status_code == 200
    assert checked.json == {"account_type": "assmat", "display_name": "Marie Dupont", "login": "123456"}
    done = client.post("/api/recovery/complete", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200 and done.json["login"] == "123456"
    assert flow.login(password=NEW_PASSWORD).status_code == 200
    assert flow.login().status_code == 401  # the old password is gone
    again = client.post("/api/recovery/complete", json={"token": token, "password": "encore une autre phrase"})
    assert (again.status_code, again.json["error"]["code"]) == (400, "reset_link_used")
    changed = outbox("identity.password_changed")
    assert len(changed) == 1 and changed[0]["data"]["email"] == "marie.dupont@orange.fr"
    assert NEW_PASSWORD not in str(changed) and NEW_PASSWORD not in str(outbox("identity.password_reset_requested"))


def test_a_reset_ends_every_session_of_the_account(client, flow, outbox):
    flow.activate()
    sessions = [flow.login().json["refresh_token"] for _ in range(2)]
    ask(client)
    client.post("/api/recovery/complete", json={"token": reset_token(outbox), "password": NEW_PASSWORD})
    for refresh_token in sessions:
        response = client.post("/api/sessions/refresh", json={"refresh_token": refresh_token})
        assert (response.status_code, response.json["error"]["code"]) == (401, "session_expired")


def test_the_link_expires_after_an_hour(client, flow, outbox, clock):
    flow.activate()
    ask(client)
    clock.advance(minutes=61)
    response = client.post("/api/recovery/complete", json={"token": reset_token(outbox), "password": NEW_PASSWORD})
    assert (response.status_code, response.json["error"]["code"]) == (400, "reset_link_expired")


def test_bad_links_and_weak_passwords_are_refused_in_french(client, flow, outbox):
    flow.activate()
    for token in ("nope", "x" * 600, 12, ["a"]):
        response = client.post("/api/recovery/complete", json={"token": token, "password": NEW_PASSWORD})
        assert (response.status_code, response.json["error"]["code"]) == (400, "reset_link_invalid")
    ask(client)
    response = client.post("/api/recovery/complete", json={"token": reset_token(outbox), "password": "court"})
    assert (response.status_code, response.json["error"]["code"]) == (400, "weak_password")
    assert "12 caractères" in response.json["error"]["message"]
    # the link still works after a refused password
    response = client.post("/api/recovery/complete", json={"token": reset_token(outbox), "password": NEW_PASSWORD})
    assert response.status_code == 200


def test_bad_requests_are_400_not_500(client):
    for body in ({"email": "marie@orange.fr", "account_type": "staff"},
                 {"email": "marie@orange.fr", "account_type": ["assmat"]},
                 {"email": "pas une adresse", "account_type": "assmat"}, {"email": "a@b.fr"}):
        response = client.post("/api/recovery/request", json=body)
        assert response.status_code == 400, body
        assert response.json["error"]["code"] in ("invalid_account_type", "invalid_email", "missing_fields")


def test_a_pending_assmat_gets_a_link_and_following_it_confirms_her_address(client, flow, outbox):
    flow.complete()
    assert flow.login().json["error"]["code"] == "email_not_confirmed"
    ask(client)
    response = client.post("/api/recovery/complete", json={"token": reset_token(outbox), "password": NEW_PASSWORD})
    assert response.status_code == 200
    assert flow.login(password=NEW_PASSWORD).status_code == 200
    activated = outbox("identity.account_activated")[-1]["data"]
    assert activated["account_id"] and activated["email"] == "marie.dupont@orange.fr"
    # the confirmation link mailed earlier is now spent
    confirm = client.post("/api/activation/confirm", json={"token": flow.last_link_token()})
    assert confirm.json["error"]["code"] == "link_used"


def test_links_are_capped_and_the_answers_say_nothing_of_the_account(client, flow, outbox, monkeypatch):
    """Asking again and again: the links mailed stop at the cap, and the throttle's refusal comes at the same
    request for an address that has an account and one that has none."""
    monkeypatch.setattr(recovery_domain, "MAX_LINKS_PER_WINDOW", 2)
    monkeypatch.setattr(recovery_domain, "MIN_ANSWER_SECONDS", 0)
    flow.activate()
    known = [ask(client) for _ in range(5)]
    unknown = [client.post("/api/recovery/request", json={"email": "personne@example.org", "account_type": "assmat"})
               for _ in range(5)]
    assert [(r.status_code, r.data) for r in known] == [(r.status_code, r.data) for r in unknown]
    assert [r.status_code for r in known][:2] == [202, 202]
    assert known[-1].status_code == 429
    assert len(outbox("identity.password_reset_requested")) == 2


def test_a_disabled_account_gets_no_link(client, flow, outbox, container):
    flow.activate()
    with container.session_factory() as session, session.begin():
        session.execute(accounts.update().values(status="disabled"))
    assert ask(client).status_code == 202
    assert outbox("identity.password_reset_requested") == []


def test_the_answer_takes_as_long_for_an_unknown_address(client, flow):
    """The floor hides the few milliseconds the link's insert and the outbox event take for a known address."""
    import time
    flow.activate()
    durations = {}
    for email in ("marie.dupont@orange.fr", "nobody@orange.fr"):
        started = time.monotonic()
        assert ask(client, email=email).status_code == 202
        durations[email] = time.monotonic() - started
    assert all(duration >= recovery_domain.MIN_ANSWER_SECONDS for duration in durations.values())
    assert abs(durations["marie.dupont@orange.fr"] - durations["nobody@orange.fr"]) < 0.15
