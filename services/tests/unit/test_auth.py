import pytest
import responses
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
