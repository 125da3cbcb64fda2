import time

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey

from services.auth import InvalidToken, TokenVerifier, generate_signing_key, issue_token, public_jwks

JWKS_URL = "http://identity.test/.well-known/jwks.json"


@pytest.fixture
def key() -> RSAKey:
    return generate_signing_key()


def token(key, **overrides):
    options = dict(subject="acc-1", role="assmat", issuer="iss", audience="aud", lifetime_seconds=60,
                   extra={"pmi_number": "280001"})
    options.update(overrides)
    return issue_token(key, **options)


@responses.activate
def test_a_valid_token_gives_the_principal(key):
    responses.get(JWKS_URL, json=public_jwks([key]))
    principal = TokenVerifier(JWKS_URL, "iss", "aud").verify(token(key))
    assert (principal.subject, principal.role, principal.claims["pmi_number"]) == ("acc-1", "assmat", "280001")


@responses.activate
@pytest.mark.parametrize("overrides", [{"issuer": "other"}, {"audience": "other"}, {"lifetime_seconds": -120}])
def test_wrong_issuer_audience_or_expired_token_is_refused(key, overrides):
    responses.get(JWKS_URL, json=public_jwks([key]))
    with pytest.raises(InvalidToken):
        TokenVerifier(JWKS_URL, "iss", "aud").verify(token(key, **overrides))


@responses.activate
def test_a_token_signed_by_another_key_is_refused_and_keys_are_refetched_at_most_once_per_period(key):
    responses.get(JWKS_URL, json=public_jwks([key]))
    verifier = TokenVerifier(JWKS_URL, "iss", "aud", min_refetch_seconds=60)
    verifier.verify(token(key))
    forged = token(generate_signing_key())
    for _ in range(3):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
    assert len(responses.calls) == 1


@responses.activate
def test_rotation_a_new_key_id_is_fetched_again(key):
    rotated = generate_signing_key()
    responses.get(JWKS_URL, json=public_jwks([key]))
    verifier = TokenVerifier(JWKS_URL, "iss", "aud", min_refetch_seconds=0)
    verifier.verify(token(key))
    responses.replace(responses.GET, JWKS_URL, json=public_jwks([key, rotated]))
    assert verifier.verify(token(rotated)).subject == "acc-1"


@responses.activate
def test_garbage_is_an_invalid_token(key):
    responses.get(JWKS_URL, json=public_jwks([key]))
    with pytest.raises(InvalidToken):
        TokenVerifier(JWKS_URL, "iss", "aud").verify("not-a.jwt")


def test_unknown_role_cannot_be_issued(key):
    with pytest.raises(ValueError):
        token(key, role="parent")


@responses.activate
def test_the_token_carries_subject_role_roles_account_type_and_circonscriptions(key):
    responses.get(JWKS_URL, json=public_jwks([key]))
    issued = token(key, subject="staff-1", role="pmi_agent", roles=["pmi_agent", "support"], account_type="staff",
                   extra={"circonscriptions": ["Chartres Nord", "Dreux"]})
    principal = TokenVerifier(JWKS_URL, "iss", "aud").verify(issued)
    assert principal.subject == "staff-1" and principal.role == "pmi_agent"
    assert principal.roles == ("pmi_agent", "support") and principal.account_type == "staff"
    assert principal.circonscriptions == ("Chartres Nord", "Dreux")
    assert principal.claims["roles"] == ["pmi_agent", "support"]


@responses.activate
def test_a_token_without_roles_grants_its_role_and_issuing_adds_the_main_role(key):
    responses.get(JWKS_URL, json=public_jwks([key]))
    verifier = TokenVerifier(JWKS_URL, "iss", "aud")
    assert verifier.verify(token(key)).roles == ("assmat",)
    assert verifier.verify(token(key, role="admin", roles=["support"])).roles == ("admin", "support")


@pytest.mark.parametrize("overrides", [{"roles": ["assmat", "parent"]}, {"account_type": "parent"}])
def test_unknown_roles_or_account_types_cannot_be_issued(key, overrides):
    with pytest.raises(ValueError):
        token(key, **overrides)


@responses.activate
@pytest.mark.parametrize("claims", [{"roles": ["assmat", "superuser"]}, {"roles": "admin"}, {"roles": []},
                                    {"account_type": "robot"}, {"circonscriptions": "Dreux"}])
def test_a_token_with_unknown_or_malformed_roles_is_refused_whole(key, claims):
    responses.get(JWKS_URL, json=public_jwks([key]))
    now = int(time.time())
    forged = jwt.encode({"alg": "RS256", "kid": key.kid}, {
        "iss": "iss", "aud": "aud", "sub": "x", "role": "assmat", "iat": now, "exp": now + 60, **claims}, key)
    with pytest.raises(InvalidToken):
        TokenVerifier(JWKS_URL, "iss", "aud").verify(forged)


@responses.activate
def test_require_token_accepts_a_token_holding_any_of_the_roles(key):
    from flask import Flask, g, jsonify

    from services.auth import require_token
    from services.web import init_service_app

    responses.get(JWKS_URL, json=public_jwks([key]))
    verifier = TokenVerifier(JWKS_URL, "iss", "aud")
    app = Flask("t")
    init_service_app(app, "t", {})

    @app.get("/staff")
    @require_token(lambda: verifier, roles=("pmi_central", "support"))
    def staff():
        return jsonify(g.principal.roles)

    client = app.test_client()

    def status(**overrides):
        return client.get("/staff", headers={"Authorization": f"Bearer {token(key, **overrides)}"}).status_code

    assert status(role="pmi_agent", roles=["pmi_agent", "support"]) == 200   # support, through `roles`
    assert status(role="pmi_central") == 200                                  # through `role`
    assert status(role="pmi_agent") == 403
    assert status(role="assmat", roles=["assmat", "mam"]) == 403
