"""What an access token says of its account: subject, role, roles, account type (and circonscriptions for agents)."""
from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from identity.accounts.domain import account_circonscriptions, account_roles, account_type


def claims_of(client, token: str) -> dict:
    jwks = KeySet.import_key_set(client.get("/.well-known/jwks.json").json)
    return jwt.decode(token, jwks, algorithms=["RS256"]).claims


def test_an_assmat_token_carries_sub_role_roles_and_account_type(client, flow):
    flow.activate()
    body = flow.login().json
    claims = claims_of(client, body["access_token"])
    assert claims["sub"] == body["account"]["id"]
    assert (claims["role"], claims["roles"], claims["account_type"]) == ("assmat", ["assmat"], "assmat")
    assert "circonscriptions" not in claims
    refreshed = client.post("/api/sessions/refresh", json={"refresh_token": body["refresh_token"]}).json
    assert claims_of(client, refreshed["access_token"])["roles"] == ["assmat"]


@pytest.mark.parametrize("account, roles, kind", [
    ({"role": "assmat"}, ["assmat"], "assmat"),
    ({"role": "mam", "roles": None}, ["mam"], "mam"),
    ({"role": "rpe", "roles": ""}, ["rpe"], "rpe"),
    ({"role": "pmi_agent", "roles": "pmi_agent, support,support"}, ["pmi_agent", "support"], "staff"),
    ({"role": "admin", "roles": "support"}, ["admin", "support"], "staff"),
    ({"role": "pmi_central", "account_type": "staff"}, ["pmi_central"], "staff"),
])
def test_account_roles_and_type(account, roles, kind):
    assert account_roles(account) == roles
    assert account_type(account) == kind


def test_circonscriptions_of_an_agent():
    assert account_circonscriptions({"role": "pmi_agent", "circonscriptions": "Chartres Nord,Dreux"}) == [
        "Chartres Nord", "Dreux"]
    assert account_circonscriptions({"role": "assmat"}) == []
