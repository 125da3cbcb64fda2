"""Which FranceConnect tokens are accepted: signature (ES256 or RS256 by a key of the JWKS), iss, aud, exp with a
small leeway in the token's favour, nonce, acr at least eidas1; a userinfo JWT with the id_token's sub."""
import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from identity.franceconnect.domain import tokens
from identity.franceconnect.domain.refusals import FranceConnectRefusal

ISSUER, CLIENT, NONCE = "https://fc.example", "client-portail", "n" * 43
EC = ECKey.generate_key("P-256", parameters={"alg": "ES256"}, private=True, auto_kid=True)
RSA = RSAKey.generate_key(2048, parameters={"alg": "RS256"}, private=True, auto_kid=True)
KEYS = KeySet([EC, RSA])
NOW = time.time()


def claims(**changes):
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "abc123", "iat": int(NOW), "exp": int(NOW) + 60, "nonce": NONCE,
            "acr": "eidas1"}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def signed(payload, key=EC, kid=None):
    algorithm = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": algorithm, "kid": kid or key.kid}, payload, key)


def check(token, now=NOW, nonce=NONCE):
    return tokens.check_id_token(token, KEYS, issuer=ISSUER, client_id=CLIENT, nonce=nonce, now=now)


def refused(code, token, **kwargs):
    with pytest.raises(FranceConnectRefusal) as caught:
        check(token, **kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


def test_an_es256_and_an_rs256_id_token_are_accepted():
    assert check(signed(claims()))["sub"] == "abc123"
    assert check(signed(claims(), key=RSA))["sub"] == "abc123"
    assert check(signed(claims(acr="eidas2")))["acr"] == "eidas2"


def test_alg_none_is_refused():
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": EC.kid}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    refused("token_invalid", f"{header}.{body}.")


def test_hs256_signed_with_a_public_key_is_refused():
    # The classic confusion attack: HMAC keyed with the provider's public key.
    from joserfc.jwk import OctKey
    fake = OctKey.import_key(json.dumps(EC.as_dict(private=False)).encode())
    token = jwt.encode({"alg": "HS256", "kid": EC.kid}, claims(), fake)
    refused("token_invalid", token)


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused():
    other = ECKey.generate_key("P-256", private=True)
    refused("token_invalid", signed(claims(), key=other, kid=EC.kid))


def test_an_unknown_kid_asks_for_the_keys_again():
    other = ECKey.generate_key("P-256", private=True, auto_kid=True)
    with pytest.raises(tokens.UnknownKey):
        check(signed(claims(), key=other))


@pytest.mark.parametrize("changes", [{"iss": "https://evil.example"}, {"iss": None}, {"aud": "another-client"},
                                     {"aud": None}, {"aud": ["another", CLIENT]}, {"sub": ""}, {"sub": None},
                                     {"exp": None}, {"exp": "tomorrow"}, {"iat": int(NOW) + 3600}])
def test_wrong_issuer_audience_subject_or_times_are_refused(changes):
    refused("token_invalid", signed(claims(**changes)))


def test_a_list_audience_with_our_client_as_azp_is_accepted():
    assert check(signed(claims(aud=["another", CLIENT], azp=CLIENT)))


def test_an_expired_id_token_is_refused():
    refused("token_expired", signed(claims(exp=int(NOW) - 60)))
    refused("token_expired", signed(claims(exp=int(NOW) - tokens.CLOCK_LEEWAY_SECONDS)))


def test_a_60_second_token_is_never_counted_expired_on_arrival():
    # FranceConnect's tokens live 60 s; a one-minute "leeway" taken against them would refuse every one.
    token = signed(claims(iat=int(NOW), exp=int(NOW) + 60))
    assert check(token, now=NOW + 1)
    assert check(token, now=NOW + 59)
    assert check(token, now=NOW + 65)   # a few seconds of skew between the two servers are forgiven


def test_a_wrong_or_missing_nonce_is_refused():
    refused("nonce_invalid", signed(claims(nonce="x" * 43)))
    refused("nonce_invalid", signed(claims(nonce=None)))
    refused("nonce_invalid", signed(claims()), nonce="y" * 43)


@pytest.mark.parametrize("acr", ["eidas0", "", None, "EIDAS1", "eidas 1", ["eidas1"], 1])
def test_an_acr_below_eidas1_or_unknown_is_refused(acr):
    refused("acr_insufficient", signed(claims(acr=acr)))


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", None, 42, "x" * 20000])
def test_garbage_is_refused_not_crashed(token):
    refused("token_invalid", token)


def test_the_userinfo_must_be_signed_and_carry_the_id_tokens_sub():
    info = {"iss": ISSUER, "aud": CLIENT, "sub": "abc123", "family_name": "DUPONT"}
    kwargs = {"issuer": ISSUER, "client_id": CLIENT, "sub": "abc123"}
    assert tokens.check_userinfo(signed(info), KEYS, **kwargs)["family_name"] == "DUPONT"
    for bad in ({**info, "sub": "someone-else"}, {**info, "iss": "https://evil.example"}, {**info, "aud": "x"}):
        with pytest.raises(FranceConnectRefusal) as caught:
            tokens.check_userinfo(signed(bad), KEYS, **kwargs)
        assert caught.value.code == "userinfo_invalid"
    with pytest.raises(FranceConnectRefusal) as caught:
        tokens.check_userinfo(json.dumps(info), KEYS, **kwargs)   # plain JSON is not a signed userinfo
    assert caught.value.code == "userinfo_invalid"
    with pytest.raises(FranceConnectRefusal) as caught:
        tokens.check_userinfo(signed(info, key=ECKey.generate_key("P-256", private=True), kid=EC.kid), KEYS,
                              **kwargs)
    assert caught.value.code == "userinfo_invalid"
