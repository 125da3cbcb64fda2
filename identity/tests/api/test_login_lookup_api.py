"""POST /api/sessions: `login` is a PMI number or an e-mail; `pmi_number` still works; `account_type` narrows."""
import datetime as dt

import pytest

from identity.accounts.domain.credentials import hash_password
from identity.adapters.orm import accounts
from identity.settings import Settings


@pytest.fixture
def settings(settings_on_both_stacks) -> Settings:
    return settings_on_both_stacks


INVALID = ("invalid_credentials", 401)


def login(client, password="correct horse battery", **body):
    response = client.post("/api/sessions", json={"password": password, **body})
    return response


def test_an_assmat_logs_in_by_number_or_by_email(client, flow):
    flow.activate()
    for body in ({"login": "123456"}, {"login": "123 456"}, {"login": "Marie.Dupont@orange.fr "},
                 {"pmi_number": "123456"}, {"login": "marie.dupont@orange.fr", "account_type": "assmat"}):
        response = login(client, **body)
        assert response.status_code == 200, body
        assert response.json["account"]["pmi_number"] == "123456"


def test_the_wrong_account_type_or_an_unknown_address_answers_like_a_wrong_password(client, flow):
    flow.activate()
    answers = [login(client, login="marie.dupont@orange.fr", account_type="mam"),
               login(client, login="inconnue@orange.fr"), login(client, login="123456", password="pas le bon")]
    assert {(r.status_code, r.data) for r in answers} == {(401, answers[0].data)}


def test_bad_login_values_are_400_in_french(client):
    for body, code in (({"login": "abc"}, "invalid_login"), ({"login": "12345"}, "invalid_pmi_number"),
                       ({"login": ["x"]}, "invalid_login"), ({"login": "a@b"}, "invalid_email"),
                       ({"login": "marie@orange.fr", "account_type": "staff"}, "invalid_account_type"),
                       ({}, "missing_fields")):
        response = login(client, **body)
        assert (response.status_code, response.json["error"]["code"]) == (400, code), body
        assert response.json["error"]["message"]


def test_a_staff_account_cannot_log_in_here_without_its_second_factor(client, container):
    with container.session_factory() as session, session.begin():
        session.execute(accounts.insert().values(
            id="s1", role="pmi_central", roles="pmi_central", email="chef@cd28.fr",
            password_hash=hash_password("correct horse battery"), display_name="Chef", status="active",
            created_at=dt.datetime.now(dt.timezone.utc), totp_secret="JBSWY3DPEHPK3PXP"))
    response = login(client, login="chef@cd28.fr")
    assert (response.json["error"]["code"], response.status_code) == INVALID
