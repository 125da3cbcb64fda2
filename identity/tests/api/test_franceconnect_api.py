"""FranceConnect through identity's API, against the development provider running in a real HTTP server in this
process: activation with the matching rules, login of linked accounts (with or without e-mail), end-session, and
every bad input of the issue (wrong or replayed state, nonce, alg none, wrong key, aud, iss, expired id_token, acr
below eidas1, userinfo sub mismatch) refused, logged and told in French."""
from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import make_server

from identity import create_app
from identity.tests.conftest import solved_captcha
from identity.adapters.orm import metadata
from identity.franceconnect.dev_provider.app import create_app as create_provider
from identity.settings import Settings

BASE = "https://assmat.example.fr"
CLIENT_ID, CLIENT_SECRET = "portail-assmat-test", "secret-du-client-de-test-assez-long"


@pytest.fixture
def provider():
    holder = {}
    server = make_server("127.0.0.1", 0, None, threaded=True)  # port first, app once the issuer is known
    issuer = f"http://127.0.0.1:{server.server_port}"
    app = create_provider(issuer, CLIENT_ID, CLIENT_SECRET, BASE, environment="test")
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    holder.update(app=app, issuer=issuer)
    yield holder
    server.shutdown()
    thread.join(5)


@pytest.fixture
def settings(tmp_path, provider) -> Settings:
    return Settings(environment="test", database_url=f"sqlite:///{tmp_path / 'identity.sqlite3'}",
                    public_base_url=BASE, franceconnect_issuer=provider["issuer"],
                    franceconnect_client_id=CLIENT_ID, franceconnect_client_secret=CLIENT_SECRET)


class FranceConnect:
    """The browser's part: follow identity's authorization URL to the provider, pick an identity, come back."""

    def __init__(self, client, provider):
        self.client, self.provider = client, provider
        self.http = requests.Session()

    def authorize(self, purpose="login", ticket=None) -> dict:
        body = {"purpose": purpose, **({"ticket": ticket} if ticket else {})}
        response = self.client.post("/api/franceconnect/authorize", json=body)
        assert response.status_code == 200, response.json
        return response.json

    def pick(self, authorization_url: str, identity: str) -> dict:
        page = self.http.get(authorization_url, timeout=5)
        assert page.status_code == 200, page.text
        request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
        back = self.http.post(self.provider["issuer"] + "/api/v2/authorize/choose",
                              data={"request": request_id, "identity": identity}, allow_redirects=False, timeout=5)
        assert back.status_code == 302
        location = back.headers["Location"]
        assert location.startswith(BASE + "/franceconnect/callback?")
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    def callback(self, state, code):
        return self.client.post("/api/franceconnect/callback", json={"state": state, "code": code})

    def sign_in(self, identity: str, purpose="login", ticket=None):
        started = self.authorize(purpose, ticket)
        returned = self.pick(started["authorization_url"], identity)
        assert returned["state"] == started["state"]
        return self.callback(returned["state"], returned["code"])


@pytest.fixture
def fc(client, provider):
    return FranceConnect(client, provider)


@pytest.fixture
def holders(grant):
    # The development provider's identities, as in the demo extract (agrement-svc's demo.py).
    grant("280001", first_name="Marie", last_name="DUPONT", birth_date="1985-04-12")
    grant("280002", first_name="Hélène", last_name="MARTIN", birth_name="LE GALL-MARÉCHAL", birth_date="1979-11-23")
    grant("280003", first_name="Amina", last_name="EL AMRANI", birth_date="1978-01-01")


def tamper(provider, **changes):
    provider["app"].config["TAMPER"] = changes


def refused(response, status, code):
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.headers["Cache-Control"] == "no-store"
    return response.json["error"]["message"]


# --- the request sent to FranceConnect ----------------------------------------------------------------------------

def test_the_authorization_request_is_franceconnect_v2s(fc, provider):
    started = fc.authorize("login")
    url = urlsplit(started["authorization_url"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == provider["issuer"] and url.path == "/api/v2/authorize"
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == BASE + "/franceconnect/callback"
    assert query["acr_values"] == "eidas1" and query["prompt"] == "login"
    assert query["scope"].split() == ["openid", "given_name", "family_name", "birthdate", "gender", "birthplace",
                                      "birthcountry", "email", "preferred_username"]
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and query["state"] != query["nonce"]
    assert query["state"] == started["state"]
    assert "client_secret" not in query
    again = fc.authorize("login")
    assert again["state"] != started["state"]


def test_activation_needs_the_ticket_of_step_1(fc, client):
    assert client.post("/api/franceconnect/authorize", json={"purpose": "activation"}).status_code == 400
    refused(client.post("/api/franceconnect/authorize", json={"purpose": "activation", "ticket": "forged"}),
            400, "ticket_invalid")
    refused(client.post("/api/franceconnect/authorize", json={"purpose": "other"}), 400, "invalid_purpose")


# --- activation -------------------------------------------------------------------------------------------------

def test_activation_links_a_matching_identity_and_opens_a_session(fc, flow, holders, outbox, client):
    answer = fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12"))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["purpose"] == "activation" and body["account"]["pmi_number"] == "280001"
    assert body["account"]["email"] is None and body["id_token"].count(".") == 2
    me = client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["display_name"] == "Marie DUPONT"
    activated = outbox("identity.account_activated")
    assert [(event["data"]["method"], event["data"]["email"]) for event in activated] == [("franceconnect", "")]
    # Active now: step 1 refuses it, and FranceConnect logs it in.
    assert client.post("/api/activation/check", json={"pmi_number": "280001", "birth_date": "1985-04-12",
                                                      **solved_captcha(client)}) \
        .status_code == 400
    again = fc.sign_in("marie", "login")
    assert again.status_code == 200 and again.json["account"]["id"] == body["account"]["id"]


def test_an_identity_without_email_and_a_compound_birth_name_activates_and_logs_in(fc, flow, holders):
    answer = fc.sign_in("helene", "activation", flow.ticket("280002", "1979-11-23"))
    assert answer.status_code == 200, answer.json
    assert answer.json["account"]["email"] is None
    login = fc.sign_in("helene", "login")
    assert login.status_code == 200 and login.json["account"]["pmi_number"] == "280002"


def test_a_birth_date_known_only_as_the_year_matches_that_exact_date(fc, flow, holders, grant):
    answer = fc.sign_in("amina", "activation", flow.ticket("280003", "1978-01-01"))
    assert answer.status_code == 200, answer.json


def test_the_same_partial_date_does_not_match_another_day_of_that_year(fc, flow, grant):
    grant("280004", first_name="Amina", last_name="EL AMRANI", birth_date="1978-06-15")
    message = refused(fc.sign_in("amina", "activation", flow.ticket("280004", "1978-06-15")), 400,
                      "identity_mismatch")
    assert "ne correspond pas" in message


def test_an_identity_matching_nobody_is_not_linked(fc, flow, holders, client, outbox):
    refused(fc.sign_in("jean", "activation", flow.ticket("280001", "1985-04-12")), 400, "identity_mismatch")
    assert outbox("identity.account_activated") == []
    # Nothing was linked: the right identity can still activate the account.
    assert fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12")).status_code == 200


def test_someone_elses_franceconnect_cannot_activate_an_agrement(fc, flow, holders):
    # Marie passed step 1 of agrément 280002 (she knows Hélène's birth date) but FranceConnect says who she is.
    refused(fc.sign_in("marie", "activation", flow.ticket("280002", "1979-11-23")), 400, "identity_mismatch")


def test_an_identity_linked_to_one_account_cannot_be_linked_to_another(fc, flow, grant, holders):
    grant("280005", first_name="Marie", last_name="DUPONT", birth_date="1985-04-12")  # a namesake's agrément
    assert fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12")).status_code == 200
    refused(fc.sign_in("marie", "activation", flow.ticket("280005", "1985-04-12")), 409, "already_linked")


def test_a_pending_accounts_unconfirmed_email_and_password_do_not_survive(fc, flow, holders, client):
    # Someone passed step 1 and gave an address and a password, never confirmed (a typo, or an impostor).
    response = client.post("/api/activation/complete", json={
        "ticket": flow.ticket("280001", "1985-04-12"), "email": "impostor@example.org",
        "password": "mot de passe de l'imposteur"})
    assert response.status_code == 201
    token = flow.last_link_token()
    answer = fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12"))
    assert answer.status_code == 200 and answer.json["account"]["email"] is None
    assert flow.login("280001", "mot de passe de l'imposteur").status_code == 401
    refused(client.post("/api/activation/confirm", json={"token": token}), 400, "link_invalid")


# --- login ------------------------------------------------------------------------------------------------------

def test_an_unlinked_identity_is_told_to_activate_first(fc, holders):
    message = refused(fc.sign_in("jean", "login"), 403, "not_linked")
    assert "Activez d'abord votre compte" in message


# --- end-session ------------------------------------------------------------------------------------------------

def test_logout_ends_the_franceconnect_session_with_id_token_hint_and_state(fc, flow, holders, client):
    id_token = fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12")).json["id_token"]
    answer = client.post("/api/franceconnect/logout", json={"id_token": id_token})
    assert answer.status_code == 200
    url = answer.json["end_session_url"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query == {"id_token_hint": id_token, "state": answer.json["state"], "post_logout_redirect_uri": BASE + "/"}
    back = fc.http.get(url, allow_redirects=False, timeout=5)
    assert back.status_code == 302 and back.headers["Location"] == f"{BASE}/?state={answer.json['state']}"
    assert client.post("/api/franceconnect/logout/return", json={"state": answer.json["state"]}).status_code == 200
    refused(client.post("/api/franceconnect/logout/return", json={"state": answer.json["state"]}), 400,
            "state_invalid")
    refused(client.post("/api/franceconnect/logout/return", json={"state": "z" * 43}), 400, "state_invalid")


# --- bad input --------------------------------------------------------------------------------------------------

def test_a_wrong_state_is_refused_and_logged(fc, holders, caplog):
    started = fc.authorize("login")
    returned = fc.pick(started["authorization_url"], "marie")
    with caplog.at_level(logging.WARNING, logger="identity.franceconnect"):
        message = refused(fc.callback("w" * 43, returned["code"]), 400, "state_invalid")
    assert "Recommencez" in message
    assert any(getattr(record, "code", None) == "state_invalid" for record in caplog.records)
    refused(fc.callback("short", returned["code"]), 400, "state_invalid")
    refused(fc.callback(["x"], returned["code"]), 400, "state_invalid")


def test_a_replayed_state_is_refused(fc, flow, holders):
    fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12"))
    started = fc.authorize("login")
    returned = fc.pick(started["authorization_url"], "marie")
    assert fc.callback(returned["state"], returned["code"]).status_code == 200
    refused(fc.callback(returned["state"], returned["code"]), 400, "state_invalid")


def test_a_state_from_another_sign_in_cannot_carry_someone_elses_code(fc, flow, holders):
    first, second = fc.authorize("login"), fc.authorize("login")
    returned = fc.pick(second["authorization_url"], "marie")
    # The code was issued for the second request's nonce: with the first state, the nonce does not match.
    refused(fc.callback(first["state"], returned["code"]), 400, "nonce_invalid")


def test_an_expired_state_is_refused(fc, holders, clock):
    started = fc.authorize("login")
    returned = fc.pick(started["authorization_url"], "marie")
    clock.advance(minutes=11)
    refused(fc.callback(returned["state"], returned["code"]), 400, "state_invalid")


def test_a_wrong_or_replayed_nonce_is_refused(fc, flow, holders, provider):
    tamper(provider, id_token={"nonce": "r" * 43})
    refused(fc.sign_in("marie", "login"), 400, "nonce_invalid")


@pytest.mark.parametrize("change, code", [
    ({"alg_none": True}, "token_invalid"),
    ({"key": ECKey.generate_key("P-256", private=True)}, "token_invalid"),                 # wrong key, same kid
    ({"key": RSAKey.generate_key(2048, private=True)}, "token_invalid"),
    ({"kid": "a-kid-nobody-published"}, "token_invalid"),
    ({"id_token": {"aud": "another-client"}}, "token_invalid"),
    ({"id_token": {"iss": "https://faux-franceconnect.example"}}, "token_invalid"),
    ({"id_token": {"exp": 1_000_000_000}}, "token_expired"),
    ({"id_token": {"acr": "eidas0"}}, "acr_insufficient"),
    ({"id_token": {"acr": None}}, "acr_insufficient"),
    ({"userinfo": {"sub": "someone-else"}}, "userinfo_invalid"),
])
def test_bad_tokens_are_refused_logged_and_told_in_french(fc, flow, holders, provider, outbox, caplog, change,
                                                          code):
    ticket = flow.ticket("280001", "1985-04-12")
    tamper(provider, **change)
    with caplog.at_level(logging.WARNING, logger="identity.franceconnect"):
        message = refused(fc.sign_in("marie", "activation", ticket), 400, code)
    assert "FranceConnect" in message
    assert any(getattr(record, "code", None) == code for record in caplog.records)
    assert outbox("identity.account_activated") == []


def test_a_token_signed_by_an_unknown_kid_makes_identity_fetch_the_keys_again(fc, flow, holders, provider,
                                                                               monkeypatch):
    # A rotation at the provider: the new key is published, the client's cached set does not have it yet.
    from identity.franceconnect import client as client_module
    monkeypatch.setattr(client_module, "JWKS_MIN_REFETCH_SECONDS", 0)  # else at most one fetch in 30 s
    fc.sign_in("jean", "login")  # caches the keys
    app = provider["app"]
    new_key = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, private=True, auto_kid=True)
    old_key = app.extensions["franceconnect_dev"]["key"]
    jwks = app.view_functions["jwks"]
    app.view_functions["jwks"] = lambda: {"keys": [old_key.as_dict(private=False), new_key.as_dict(private=False)]}
    tamper(provider, key=new_key, kid=new_key.kid)
    answer = fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12"))
    assert answer.status_code == 200, answer.json
    app.view_functions["jwks"] = jwks


def test_a_userinfo_that_is_not_a_signed_jwt_is_refused(fc, holders, provider):
    app = provider["app"]
    app.view_functions["userinfo"] = lambda: ({"sub": "x", "family_name": "DUPONT"}, 200)
    refused(fc.sign_in("marie", "login"), 400, "userinfo_invalid")


def test_a_refused_code_is_told_not_crashed(fc, holders):
    started = fc.authorize("login")
    refused(fc.callback(started["state"], "not-a-code"), 400, "code_invalid")


def test_franceconnect_down_is_a_503_in_french(client, app):
    from identity.franceconnect.client import FranceConnectClient
    app.extensions["identity.franceconnect"] = {"store": None, "client": FranceConnectClient(
        "http://127.0.0.1:9", CLIENT_ID, CLIENT_SECRET, BASE + "/franceconnect/callback")}
    message = refused(client.post("/api/franceconnect/authorize", json={"purpose": "login"}), 503,
                      "franceconnect_unavailable")
    assert "FranceConnect ne répond pas" in message


def test_without_an_issuer_franceconnect_is_not_offered(tmp_path):
    app = create_app(Settings(environment="test", database_url=f"sqlite:///{tmp_path / 'i.sqlite3'}"))
    metadata.create_all(app.extensions["identity"].engine)
    client = app.test_client()
    assert client.get("/api/franceconnect").json == {"enabled": False}
    refused(client.post("/api/franceconnect/authorize", json={"purpose": "login"}), 404, "franceconnect_disabled")


def test_franceconnects_60_second_access_token_is_not_counted_expired_on_arrival(fc, flow, holders, monkeypatch):
    # The provider's access tokens live 60 s, like FranceConnect's. With authlib's default leeway (60 s) the client
    # would count them expired at once and never call the userinfo: the sign-in would fail.
    from identity.franceconnect import client as client_module
    monkeypatch.setattr(client_module, "ACCESS_TOKEN_LEEWAY", 60)
    refused(fc.sign_in("marie", "login"), 400, "userinfo_invalid")
    monkeypatch.setattr(client_module, "ACCESS_TOKEN_LEEWAY", 5)
    assert fc.sign_in("marie", "activation", flow.ticket("280001", "1985-04-12")).status_code == 200
