"""The defences through the HTTP API: captcha, throttling of step 1, login, resend and mails, the same work for
every refusal of step 1, the addresses told, the audit trail and the staff summary."""
from __future__ import annotations

import datetime as dt
import logging

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from identity.adapters.orm import accounts, audit_log
from identity.defences.domain import POLICIES
from identity.tests.conftest import BIRTH_DATE, PASSWORD, solved_captcha
from services.auth import issue_token


def error(response):
    return response.status_code, response.json["error"]["code"]


def check(client, pmi_number="123456", birth_date=BIRTH_DATE, captcha=True, ip=None, **extra):
    body = {"pmi_number": pmi_number, "birth_date": birth_date, **(solved_captcha(client) if captcha else {}),
            **extra}
    headers = {"X-Forwarded-For": ip} if ip else {}
    return client.post("/api/activation/check", json=body, headers=headers)


def audit_rows(container, action=None):
    with container.session_factory() as session:
        query = sa.select(audit_log).order_by(audit_log.c.id)
        if action:
            query = query.where(audit_log.c.action == action)
        return session.execute(query).mappings().all()


# -- captcha ---------------------------------------------------------------------------------------------------------

def test_a_captcha_has_an_image_and_a_sound_and_serves_one_attempt(client, flow):
    created = client.post("/api/captcha")
    assert created.status_code == 201
    challenge = created.json["id"]
    assert created.json["image"] == f"/api/captcha/{challenge}.png"
    image, sound = client.get(created.json["image"]), client.get(created.json["audio"])
    assert (image.status_code, image.mimetype, image.data[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")
    assert (sound.status_code, sound.mimetype, sound.data[:4], sound.data[8:12]) == (200, "audio/wav", b"RIFF",
                                                                                     b"WAVE")
    assert client.get(created.json["image"]).data == image.data  # same drawing: no averaging of renderings
    answer = client.get(f"/api/captcha/{challenge}/answer").json["answer"]
    # Case-insensitive, spaces forgiven; used once.
    typed = " ".join(answer.lower())
    assert check(client, captcha=False, captcha_id=challenge, captcha_answer=typed).status_code == 200
    assert error(check(client, captcha=False, captcha_id=challenge, captcha_answer=answer)) == (400, "captcha_wrong")
    assert error(client.get(created.json["image"])) == (404, "captcha_not_found")


def test_a_captcha_avoids_ambiguous_and_accented_characters():
    from identity.captcha.domain import ALPHABET, new_answer
    assert not set("0O1IL2Z5S8BÉÈÀÇ") & set(ALPHABET)
    assert all(set(new_answer()) <= set(ALPHABET) for _ in range(50))


def test_a_wrong_captcha_answer_spends_the_challenge(client, flow):
    challenge = client.post("/api/captcha").json["id"]
    answer = client.get(f"/api/captcha/{challenge}/answer").json["answer"]
    assert error(check(client, captcha=False, captcha_id=challenge, captcha_answer="zzzzz")) == (400, "captcha_wrong")
    assert error(check(client, captcha=False, captcha_id=challenge, captcha_answer=answer)) == (400, "captcha_wrong")


def test_a_captcha_expires_after_ten_minutes(client, flow, clock):
    challenge = client.post("/api/captcha").json["id"]
    answer = client.get(f"/api/captcha/{challenge}/answer").json["answer"]
    clock.advance(seconds=601)
    assert error(client.get(f"/api/captcha/{challenge}.png")) == (404, "captcha_not_found")
    assert error(check(client, captcha=False, captcha_id=challenge, captcha_answer=answer)) == (400, "captcha_wrong")


def test_step_1_always_needs_the_captcha(client, flow):
    response = check(client, captcha=False)
    assert error(response) == (428, "captcha_required")
    assert "Recopiez" in response.json["error"]["message"]


def test_the_answer_hook_exists_only_in_local_and_test_runs(tmp_path):
    from identity import create_app
    from identity.settings import Settings
    production = create_app(Settings(environment="production", database_url=f"sqlite:///{tmp_path / 'p.sqlite3'}",
                                     broker_url="sqlitebus:///x"))
    rules = {rule.rule for rule in production.url_map.iter_rules()}
    assert "/api/captcha/<challenge_id>/answer" not in rules and "/api/captcha" in rules
    production.extensions["identity"].engine.dispose()


# -- step 1 throttled ------------------------------------------------------------------------------------------------

def test_after_five_wrong_birth_dates_even_the_right_one_waits_for_the_lock(client, flow, clock):
    for day in range(1, 6):
        assert error(check(client, birth_date=f"1980-01-0{day}")) == (400, "activation_refused")
    locked = check(client)  # the right date, captcha solved
    assert error(locked) == (429, "too_many_attempts")
    assert 3500 < locked.json["error"]["retry_after"] <= 3600
    assert locked.headers["Retry-After"] == str(locked.json["error"]["retry_after"])
    clock.advance(minutes=61)
    assert check(client).status_code == 200


def test_one_address_trying_many_numbers_is_locked_too(app, grant):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.50"  # not a trusted proxy: its X-Forwarded-For is not believed
    for number in range(100000, 100010):
        assert error(check(client, pmi_number=str(number))) == (400, "activation_refused")
    grant("123456")
    assert error(check(client)) == (429, "too_many_attempts")
    assert error(check(client, ip="198.51.100.7")) == (429, "too_many_attempts")


def test_a_locked_identifier_is_locked_from_every_address(app, client, flow):
    trusting = app.test_client()
    for attempt in range(5):
        response = trusting.post("/api/activation/check", json={
            "pmi_number": "123456", "birth_date": "1990-01-01", **solved_captcha(trusting)},
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert error(response) == (400, "activation_refused")
    other = trusting.post("/api/activation/check", json={
        "pmi_number": "123456", "birth_date": BIRTH_DATE, **solved_captcha(trusting)},
        headers={"X-Forwarded-For": "192.0.2.99"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert error(other) == (429, "too_many_attempts")
    ips = {row["ip"] for row in audit_rows(app.extensions["identity"], "activation_check")}
    assert {"203.0.113.0", "192.0.2.99"} <= ips  # the gateway's forwarded address, from loopback only


# -- the same answer and the same work ------------------------------------------------------------------------------

def _work_of(container, client, **check_args):
    """The statements the request ran and the store operations it made: its decision path."""
    statements, operations = [], []

    def count_statement(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper() + " " + (
            statement.split("FROM")[1].split()[0] if "FROM" in statement else ""))
    store = container.store
    originals = {}
    for name in ("hit", "count", "get", "put", "take", "delete"):
        originals[name] = getattr(store, name)

        def spy(*args, _name=name, **kwargs):
            operations.append(_name)
            return originals[_name](*args, **kwargs)
        setattr(store, name, spy)
    captcha = solved_captcha(client)
    event.listen(container.engine, "before_cursor_execute", count_statement)
    try:
        response = client.post("/api/activation/check", json={**captcha, **check_args})
    finally:
        event.remove(container.engine, "before_cursor_execute", count_statement)
        for name, original in originals.items():
            setattr(store, name, original)
    return response, statements, operations


def test_every_refusal_of_step_1_takes_the_same_decision_path(client, flow, grant, container, clock):
    grant("222222", validity_end=(clock.now.date() - dt.timedelta(days=1)).isoformat())
    grant("333333", validity_start=(clock.now.date() + dt.timedelta(days=30)).isoformat())
    grant("444444")
    grant("555555")
    flow.activate("444444", email="active@free.fr")
    flow.complete("555555", email="pending@free.fr")
    cases = {
        "unknown number": {"pmi_number": "999999", "birth_date": BIRTH_DATE},
        "wrong birth date": {"pmi_number": "123456", "birth_date": "1980-05-18"},
        "agrément ended": {"pmi_number": "222222", "birth_date": BIRTH_DATE},
        "agrément not started": {"pmi_number": "333333", "birth_date": BIRTH_DATE},
        "account already active": {"pmi_number": "444444", "birth_date": BIRTH_DATE},
        "account pending, wrong date": {"pmi_number": "555555", "birth_date": "1980-05-18"},
    }
    results = {case: _work_of(container, client, **body) for case, body in cases.items()}
    first = results["unknown number"]
    for case, (response, statements, operations) in results.items():
        assert (response.status_code, response.data) == (400, first[0].data), case
        assert statements == first[1], case
        assert operations == first[2], case


def test_a_pending_account_passes_step_1_again_to_give_another_address(client, flow, outbox):
    first_link = flow.complete(email="marie.dupnt@orange.fr")
    answer = check(client).json
    assert answer["pending_email"] == "ma•••@orange.fr"
    response = client.post("/api/activation/complete", json={"ticket": answer["ticket"],
                                                              "email": "marie.dupont@orange.fr",
                                                              "password": PASSWORD})
    assert response.status_code == 201
    assert error(client.post("/api/activation/confirm", json={"token": first_link})) == (400, "link_invalid")
    [told] = outbox("identity.activation_address_replaced")
    assert told["data"]["email"] == "marie.dupnt@orange.fr"
    assert told["data"]["new_email_masked"] == "ma•••@orange.fr"


def test_the_extract_address_is_told_when_another_one_activates_the_account(client, flow, grant, outbox):
    grant("123456", email="marie@laposte.net")
    flow.activate(email="someone.else@free.fr")
    [told] = outbox("identity.activation_elsewhere_notice")
    assert (told["data"]["email"], told["data"]["account_email_masked"], told["data"]["method"]) == (
        "marie@laposte.net", "so•••@free.fr", "password")


def test_the_extract_address_is_not_told_when_it_is_the_one_used(client, flow, grant, outbox):
    grant("123456", email="marie.dupont@orange.fr")
    flow.activate(email="Marie.Dupont@orange.fr")
    assert outbox("identity.activation_elsewhere_notice") == []


def test_the_password_policy_knows_the_birth_date_and_the_identifiers(client, flow):
    ticket = flow.ticket()
    for password, code in (("née le 17/05/1980 !", "password_contains_birth_date"),
                           ("mon numéro 123456", "password_contains_identifier"),
                           ("azertyuiop2024", "common_password"),
                           ("vive l'Eure-et-Loir", "password_contains_portal_words")):
        response = client.post("/api/activation/complete", json={"ticket": ticket, "email": "marie@free.fr",
                                                                  "password": password})
        assert error(response) == (400, code), password


# -- resend and mails ------------------------------------------------------------------------------------------------

def test_resend_is_capped_per_account_and_day(client, flow, clock):
    flow.complete()
    ticket = flow.ticket()
    limit = POLICIES["resend"].identifier_limit
    for _ in range(limit):
        assert client.post("/api/activation/resend", json={"ticket": ticket}).status_code == 200
    refused = client.post("/api/activation/resend", json={"ticket": ticket})
    assert error(refused) == (429, "too_many_attempts")
    clock.advance(hours=24, minutes=1)
    assert client.post("/api/activation/resend", json={"ticket": flow.ticket()}).status_code == 200


def test_mails_to_one_address_are_capped(client, flow):
    assert POLICIES["mail"].identifier_limit == 5
    flow.complete(email="victim@free.fr")                                   # 1
    for _ in range(3):                                                      # 2, 3, 4
        assert client.post("/api/activation/resend", json={"ticket": flow.ticket()}).status_code == 200
    flow.complete(email="victim@free.fr")                                   # 5
    response = client.post("/api/activation/complete", json={"ticket": flow.ticket(), "email": "victim@free.fr",
                                                              "password": PASSWORD})
    assert error(response) == (429, "too_many_attempts")


# -- login -----------------------------------------------------------------------------------------------------------

def test_login_after_one_failure_asks_the_captcha(client, flow):
    flow.activate()
    assert error(flow.login(password="wrong password!")) == (401, "invalid_credentials")
    assert error(flow.login()) == (428, "captcha_required")
    assert flow.login(captcha=True).status_code == 200
    # A success forgives the identifier's failures: the next login needs no captcha.
    assert flow.login().status_code == 200


def test_fifty_wrong_passwords_then_the_right_one_is_still_refused_until_the_lock_ends(client, flow, clock):
    """The rule: 5 failures in an hour lock the identifier for 15 minutes, right password or not; after the lock
    the captcha is still required while failures remain in the hour; a solved captcha and the right password then
    open the session."""
    flow.activate()
    codes = [error(flow.login(password=f"wrong password {n}", captcha=True))[1] for n in range(50)]
    assert codes[:5] == ["invalid_credentials"] * 5 and set(codes[5:]) == {"too_many_attempts"}
    assert error(flow.login(captcha=True)) == (429, "too_many_attempts")
    clock.advance(minutes=16)
    assert error(flow.login()) == (428, "captcha_required")
    assert flow.login(captcha=True).status_code == 200


def test_a_login_rehashes_a_password_made_with_older_parameters(client, flow, container, monkeypatch):
    from argon2 import PasswordHasher
    flow.activate()
    old = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=2).hash(PASSWORD)
    with container.session_factory() as session, session.begin():
        session.execute(accounts.update().values(password_hash=old))
    assert flow.login().status_code == 200
    with container.session_factory() as session:
        assert session.execute(sa.select(accounts.c.password_hash)).scalar() != old


# -- audit and summary -----------------------------------------------------------------------------------------------

def test_every_attempt_is_audited_without_secrets_nor_clear_identifiers(client, flow, container):
    flow.activate()
    flow.login(password="wrong password!")
    flow.login(captcha=True)
    rows = audit_rows(container)
    assert {(row["action"], row["outcome"]) for row in rows} >= {
        ("activation_check", "success"), ("activation_complete", "success"), ("activation_confirm", "success"),
        ("login", "failure"), ("login", "success")}
    text = " ".join(str(value) for row in rows for value in row.values())
    assert "123456" not in text and PASSWORD not in text and "wrong password" not in text
    assert "marie.dupont@orange.fr" not in text
    assert any(row["identifier"] and row["identifier"].startswith("12••56#") for row in rows)


def staff_token(container, settings, role):
    return issue_token(container.keys.signing_key(), subject="staff-1", role=role, issuer=settings.token_issuer,
                       audience=settings.token_audience, lifetime_seconds=300)


@pytest.mark.parametrize("role", ["support", "admin", "pmi_central"])
def test_the_security_summary_is_for_staff(client, container, settings, role):
    response = client.get("/api/security/summary",
                          headers={"Authorization": f"Bearer {staff_token(container, settings, role)}"})
    assert response.status_code == 200 and response.json["failures_last_hour"] == 0


def test_the_security_summary_refuses_assmats_and_anonymous(client, container, settings):
    assert error(client.get("/api/security/summary")) == (401, "token_missing")
    token = staff_token(container, settings, "assmat")
    assert error(client.get("/api/security/summary", headers={"Authorization": f"Bearer {token}"})) == \
        (403, "forbidden")


def test_a_spike_of_failures_is_logged_and_counted(client, flow, container, settings, caplog):
    container.throttle.spike_threshold = 8
    caplog.set_level(logging.WARNING, logger="identity.defences")
    for number in range(200000, 200008):
        check(client, pmi_number=str(number))
    spikes = [record for record in caplog.records if record.getMessage() == "security spike"]
    assert len(spikes) == 1 and spikes[0].failures_this_minute == 8
    token = staff_token(container, settings, "support")
    summary = client.get("/api/security/summary", headers={"Authorization": f"Bearer {token}"}).json
    assert summary["spikes_last_day"] == 1 and summary["spikes"][0]["failures_this_minute"] == 8
    assert summary["failures_this_minute"] >= 8 and summary["failures_last_hour"] >= 8
    assert summary["by_action_last_hour"]["activation_check"]["failures"] >= 8


def test_one_challenge_is_drawn_a_dozen_times_at_most(client):
    from identity.captcha.domain import MAX_RENDERINGS
    challenge = client.post("/api/captcha").json["id"]
    codes = [client.get(f"/api/captcha/{challenge}.{'png' if n % 2 else 'wav'}").status_code
             for n in range(MAX_RENDERINGS + 2)]
    assert codes == [200] * MAX_RENDERINGS + [429, 429]
