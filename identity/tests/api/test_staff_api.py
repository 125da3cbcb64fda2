"""PMI staff: created by command (TOTP secret and password link printed once), login with password and TOTP, a code
never accepted twice, every attempt audited, disabled by command."""
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from identity.settings import Settings
from identity.staff.cli import staff_command
from identity.staff.domain import totp


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path) -> Settings:
    """Both stacks: the embedded default's SQLite and PostgreSQL (a fresh database per test)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'identity.sqlite3'}"
    else:
        url = request.getfixturevalue("real_servers").database("identity_accounts")
    return Settings(environment="test", database_url=url, public_base_url="https://assmat.example.fr")


PASSWORD = "une phrase de passe du personnel"


@pytest.fixture
def staff(client, settings, container, clock, capsys):
    """`staff create` as an administrator runs it, then the first password set through the printed link."""
    def create(email="agent@cd28.fr", roles=("pmi_agent",), circonscriptions=("Chartres", "Dreux")):
        argv = ["create", "--email", email, "--name", "Agnès Agent"]
        for role in roles:
            argv += ["--role", role]
        for name in circonscriptions:
            argv += ["--circonscription", name]
        assert staff_command(settings, argv) == 0
        out = capsys.readouterr().out
        uri = re.search(r"otpauth://\S+", out).group(0)
        link = re.search(r"https://\S+jeton=(\S+)", out).group(1)
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        response = client.post("/api/recovery/complete", json={"token": link, "password": PASSWORD})
        assert response.status_code == 200 and response.json["account_type"] == "staff"
        return secret
    return create


def staff_login(client, secret, clock, email="agent@cd28.fr", password=PASSWORD, code=None):
    return client.post("/api/staff/sessions", json={"email": email, "password": password,
                                                    "totp": code or totp(secret, clock.now)})


def test_staff_login_gives_a_token_with_roles_and_circonscriptions(client, staff, clock, settings):
    secret = staff(roles=("pmi_agent", "support"))
    response = staff_login(client, secret, clock)
    assert response.status_code == 200, response.json
    claims = jwt.decode(response.json["access_token"], KeySet.import_key_set(client.get("/.well-known/jwks.json").json),
                        algorithms=["RS256"]).claims
    assert claims["role"] == "pmi_agent" and claims["roles"] == ["pmi_agent", "support"]
    assert claims["account_type"] == "staff" and claims["circonscriptions"] == ["Chartres", "Dreux"]
    me = client.get("/api/staff/me", headers={"Authorization": f"Bearer {response.json['access_token']}"})
    assert me.status_code == 200
    assert me.json["roles"] == ["pmi_agent", "support"] and me.json["display_name"] == "Agnès Agent"


def test_a_code_is_accepted_once(client, staff, clock):
    secret = staff(roles=("pmi_central",), circonscriptions=())
    code = totp(secret, clock.now)
    assert staff_login(client, secret, clock, code=code).status_code == 200
    replay = staff_login(client, secret, clock, code=code)
    assert (replay.status_code, replay.json["error"]["code"]) == (401, "staff_login_refused")
    clock.advance(seconds=30)
    assert staff_login(client, secret, clock).status_code == 200  # the next code works


def test_wrong_password_wrong_code_and_unknown_address_get_one_answer(client, staff, clock):
    secret = staff(roles=("admin",), circonscriptions=())
    wrong_code = "000000" if totp(secret, clock.now) != "000000" else "111111"
    answers = [staff_login(client, secret, clock, password="pas le bon mot de passe"),
               staff_login(client, secret, clock, code=wrong_code),
               staff_login(client, secret, clock, email="inconnu@cd28.fr"),
               staff_login(client, secret, clock, email="pas une adresse"),
               staff_login(client, secret, clock, code="abc")]
    assert {(r.status_code, r.data) for r in answers} == {(401, answers[0].data)}
    assert "code" in answers[0].json["error"]["message"]


def test_every_staff_login_attempt_is_audited(client, staff, clock, caplog):
    secret = staff(roles=("support",), circonscriptions=())
    with caplog.at_level(logging.INFO, logger="identity.audit"):
        staff_login(client, secret, clock, password="pas le bon mot de passe")
        staff_login(client, secret, clock, email="pas une adresse")
        staff_login(client, secret, clock)
    records = [(r.action, r.outcome, getattr(r, "detail", None)) for r in caplog.records if r.name == "identity.audit"]
    assert records == [("staff_login", "refused", "password"), ("staff_login", "refused", "password"),
                       ("staff_login", "success", None)]


def test_a_disabled_staff_account_cannot_log_in_and_its_sessions_end(client, staff, clock, settings):
    secret = staff(roles=("pmi_central",), circonscriptions=())
    refresh_token = staff_login(client, secret, clock).json["refresh_token"]
    assert staff_command(settings, ["disable", "--email", "agent@cd28.fr"]) == 0
    clock.advance(seconds=30)
    response = staff_login(client, secret, clock)
    assert (response.status_code, response.json["error"]["code"]) == (403, "account_disabled")
    assert client.post("/api/sessions/refresh", json={"refresh_token": refresh_token}).status_code == 401


def test_the_command_refuses_bad_input_in_french(settings, container, capsys):
    assert staff_command(settings, ["create", "--email", "x@cd28.fr", "--name", "X", "--role", "pmi_agent"]) == 1
    assert "circonscription" in capsys.readouterr().err
    assert staff_command(settings, ["create", "--email", "pas-une-adresse", "--name", "X", "--role", "admin"]) == 2
    assert staff_command(settings, ["create", "--email", "x@cd28.fr", "--name", "X", "--role", "admin"]) == 0
    capsys.readouterr()
    assert staff_command(settings, ["create", "--email", "X@cd28.fr", "--name", "Y", "--role", "admin"]) == 1
    assert "déjà" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        staff_command(settings, ["create", "--email", "y@cd28.fr", "--name", "Y", "--role", "root"])


def test_staff_me_refuses_other_accounts(client, flow):
    flow.activate()
    token = flow.login().json["access_token"]
    response = client.get("/api/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_an_account_without_a_totp_secret_is_refused_not_a_crash(client, staff, clock, container):
    import sqlalchemy as sa

    from identity.adapters.orm import accounts
    secret = staff(roles=("admin",), circonscriptions=())
    with container.session_factory() as session, session.begin():
        session.execute(sa.update(accounts).values(totp_secret=None))
    response = staff_login(client, secret, clock)
    assert (response.status_code, response.json["error"]["code"]) == (401, "staff_login_refused")


class FakeDefences:
    """Stands for part A's identity.defences: records the calls, refuses once told to."""

    def __init__(self):
        self.calls, self.refuse = [], False

    def check(self, action, identifier, ip):
        self.calls.append(("check", action, identifier))
        if self.refuse:
            from services.web import ApiError
            raise ApiError(429, "too_many_attempts", "Trop de tentatives.", {"retry_after": 60})

    def record_failure(self, action, identifier, ip):
        self.calls.append(("failure", action, identifier))

    def record_success(self, action, identifier, ip):
        self.calls.append(("success", action, identifier))


def test_the_gates_call_part_as_defences_and_a_throttled_attempt_is_audited(client, staff, clock, caplog,
                                                                           monkeypatch):
    from identity.accounts import gates
    secret = staff(roles=("support",), circonscriptions=())
    defences = FakeDefences()
    monkeypatch.setattr(gates, "_defences", defences)
    staff_login(client, secret, clock, password="pas le bon mot de passe")
    staff_login(client, secret, clock)
    assert defences.calls == [("check", "staff_login", "agent@cd28.fr"), ("failure", "staff_login", "agent@cd28.fr"),
                              ("check", "staff_login", "agent@cd28.fr"), ("success", "staff_login", "agent@cd28.fr")]
    defences.refuse = True
    with caplog.at_level(logging.INFO, logger="identity.audit"):
        response = staff_login(client, secret, clock)
    assert (response.status_code, response.json["error"]["code"]) == (429, "too_many_attempts")
    assert [(r.action, r.outcome) for r in caplog.records if r.name == "identity.audit"] == [
        ("staff_login", "throttled")]
    client.post("/api/recovery/request", json={"email": "agent@cd28.fr", "account_type": "assmat"})
    assert defences.calls[-1] == ("check", "reset", "agent@cd28.fr")


def test_a_new_totp_secret_replaces_the_old_one_and_ends_the_sessions(client, staff, clock, settings, capsys):
    old = staff(roles=("pmi_central",), circonscriptions=())
    refresh_token = staff_login(client, old, clock).json["refresh_token"]
    assert staff_command(settings, ["new-totp", "--email", "agent@cd28.fr"]) == 0
    new = parse_qs(urlsplit(re.search(r"otpauth://\S+", capsys.readouterr().out).group(0)).query)["secret"][0]
    assert new != old
    assert client.post("/api/sessions/refresh", json={"refresh_token": refresh_token}).status_code == 401
    clock.advance(seconds=30)
    assert staff_login(client, old, clock).status_code == 401
    assert staff_login(client, new, clock).status_code == 200
