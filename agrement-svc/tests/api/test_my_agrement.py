"""GET /api/agrements/me: the assmat reads her own agrément, with a token identity signed."""
from __future__ import annotations

import pytest
import responses

from agrement import create_app
from agrement.bootstrap import bootstrap
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from agrement.adapters.orm import metadata
from agrement.settings import Settings
from services.auth import generate_signing_key, issue_token, public_jwks

JWKS = "http://identity.test/.well-known/jwks.json"


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        broker_url=f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", identity_jwks_url=JWKS)
    container = bootstrap(settings)
    metadata.create_all(container.engine)
    import_extract(container.session_factory, generate_demo_extract(count=10).splitlines(keepends=True), "d.csv")
    return create_app(container=container).test_client()


@pytest.fixture
def key():
    signing_key = generate_signing_key()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS, json=public_jwks([signing_key]))
        yield signing_key


def bearer(key, role="assmat", pmi_number="280001", issuer="assmat-identity"):
    token = issue_token(key, subject="acc", role=role, issuer=issuer, audience="assmat-portal",
                        lifetime_seconds=60, extra={"pmi_number": pmi_number})
    return {"Authorization": f"Bearer {token}"}


def test_the_assmat_reads_her_own_agrement_without_her_birth_date(client, key):
    response = client.get("/api/agrements/me", headers=bearer(key))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["pmi_number"], body["last_name"], body["commune_insee"]) == ("280001", "DUPONT", "28085")
    assert body["commune_name"] == "Chartres"
    assert "birth_date" not in body and body["validity_end"] > body["validity_start"]


@pytest.mark.parametrize("headers,status,code", [
    ({}, 401, "token_missing"),
    ({"Authorization": "Bearer nonsense"}, 401, "token_invalid"),
])
def test_without_a_valid_token_the_answer_is_401(client, key, headers, status, code):
    response = client.get("/api/agrements/me", headers=headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)


def test_other_roles_and_foreign_issuers_are_refused(client, key):
    assert client.get("/api/agrements/me", headers=bearer(key, role="mam")).status_code == 403
    assert client.get("/api/agrements/me", headers=bearer(key, issuer="evil")).status_code == 401


def test_an_unknown_pmi_number_is_404(client, key):
    response = client.get("/api/agrements/me", headers=bearer(key, pmi_number="999999"))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "agrement_not_found"
