"""The development provider is a development tool: refused outside local runs and tests, named as such on its
pages; it refuses what FranceConnect v2 refuses (short state or nonce, another acr, an unregistered redirect URI,
client_secret_basic, a reused code)."""
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from identity.franceconnect.dev_provider.app import RefusedOutsideDevelopment, create_app, main

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def provider():
    return create_app("http://fc.test", "client", "secret-assez-long", BASE, environment="test").test_client()


def authorize_query(**changes):
    query = {"response_type": "code", "client_id": "client", "redirect_uri": BASE + "/franceconnect/callback",
             "scope": "openid family_name birthdate", "state": "s" * 32, "nonce": "n" * 32, "acr_values": "eidas1",
             "prompt": "login"}
    query.update(changes)
    return "/api/v2/authorize?" + urlencode({key: value for key, value in query.items() if value is not None})


@pytest.mark.parametrize("environment", ["production", "staging", ""])
def test_it_refuses_to_run_outside_local_runs_and_tests(environment, monkeypatch):
    with pytest.raises(RefusedOutsideDevelopment):
        create_app("http://fc.test", "client", "secret", BASE, environment=environment)
    monkeypatch.setenv("ASSMAT_ENV", environment)
    assert main(["--port", "0"]) == 2


def test_without_assmat_env_it_counts_as_production(monkeypatch):
    monkeypatch.delenv("ASSMAT_ENV", raising=False)
    with pytest.raises(RefusedOutsideDevelopment):
        create_app("http://fc.test", "client", "secret", BASE)


def test_its_pages_say_it_is_a_development_tool(provider):
    html = provider.get(authorize_query()).get_data(as_text=True)
    assert "Outil de développement" in html and "Ce n'est pas FranceConnect" in html
    assert html.count('name="identity"') == 5  # four test identities and "cancel"


@pytest.mark.parametrize("changes", [{"state": "s" * 31}, {"nonce": None}, {"acr_values": "eidas2"},
                                     {"redirect_uri": "https://evil.example/cb"}, {"client_id": "other"},
                                     {"response_type": "token"}, {"scope": "profile"}])
def test_it_refuses_what_franceconnect_refuses(provider, changes):
    assert provider.get(authorize_query(**changes)).status_code == 400


def test_codes_are_single_use_and_only_client_secret_post_is_accepted(provider):
    html = provider.get(authorize_query()).get_data(as_text=True)
    request_id = re.search(r'name="request" value="([^"]+)"', html).group(1)
    back = provider.post("/api/v2/authorize/choose", data={"request": request_id, "identity": "marie"})
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": BASE + "/franceconnect/callback",
            "client_id": "client", "client_secret": "secret-assez-long"}
    assert provider.post("/api/v2/token", data=form, headers={"Authorization": "Basic Y2xpZW50OnNlY3JldA=="}) \
        .status_code == 401
    assert provider.post("/api/v2/token", data={**form, "client_secret": "wrong"}).status_code == 401
    answer = provider.post("/api/v2/token", data=form)
    assert answer.status_code == 200 and answer.json["expires_in"] == 60
    assert provider.post("/api/v2/token", data=form).json["error"] == "invalid_grant"
    info = provider.get("/api/v2/userinfo", headers={"Authorization": f"Bearer {answer.json['access_token']}"})
    assert info.headers["Content-Type"] == "application/jwt" and info.get_data(as_text=True).count(".") == 2
