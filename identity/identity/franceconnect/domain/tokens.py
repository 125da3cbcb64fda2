"""Which FranceConnect tokens are accepted: the id_token and the signed userinfo, checked before anything is read.

FranceConnect v2 signs both with ES256 (RS256 is allowed); the keys come from its JWKS. A token is refused when its
algorithm is anything else (`none` included), when no key of the set has its `kid` (the caller fetches the set
again once, since the provider may have rotated), when the signature does not verify, when `iss`, `aud`, `exp`,
`nonce` or `acr` are not the expected ones. The clock leeway is for the skew between two servers, a few seconds:
it is applied in the token's favour (a token is not counted expired before its `exp`), so FranceConnect's tokens,
which live 60 s, are never refused on arrival.
"""
from __future__ import annotations

import base64
import hmac
import json

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from identity.franceconnect.domain.refusals import FranceConnectRefusal

ALGORITHMS = ("ES256", "RS256")
# eIDAS levels, lowest first: the portal asks for eidas1 and accepts it or anything higher.
ACR_LEVELS = ("eidas1", "eidas2", "eidas3")
REQUIRED_ACR = "eidas1"
CLOCK_LEEWAY_SECONDS = 10
_TOKEN_MAX_LENGTH = 16_384


class UnknownKey(Exception):
    """No key of the set has the token's kid: fetch the provider's JWKS again and retry once."""


def token_header(token, refusal: str = "token_invalid") -> dict:
    """The JOSE header of a compact JWS, read without trusting it (to choose the key and refuse `none`)."""
    if not isinstance(token, str) or len(token) > _TOKEN_MAX_LENGTH or token.count(".") != 2:
        raise FranceConnectRefusal(refusal, "not a compact JWS")
    encoded = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, UnicodeError):
        raise FranceConnectRefusal(refusal, "unreadable header") from None
    if not isinstance(header, dict):
        raise FranceConnectRefusal(refusal, "unreadable header")
    return header


def verify_signature(token, keys: KeySet, refusal: str = "token_invalid") -> dict:
    """The claims of a JWS signed ES256 or RS256 by a key of `keys` (chosen by kid), or a refusal."""
    header = token_header(token, refusal)
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise FranceConnectRefusal(refusal, f"algorithm {algorithm!r} refused")
    kid = header.get("kid")
    if not isinstance(kid, str) or not any(key.kid == kid for key in keys.keys):
        raise UnknownKey(kid)
    key = keys.get_by_kid(kid)
    if key.get("alg") not in (None, algorithm):
        raise FranceConnectRefusal(refusal, f"key {kid} is not for {algorithm}")
    try:
        return jwt.decode(token, key, algorithms=[algorithm]).claims
    except (JoseError, ValueError, UnicodeError, TypeError) as error:
        raise FranceConnectRefusal(refusal, f"signature: {type(error).__name__}") from None



def _audience_ok(claims: dict, client_id: str) -> bool:
    audience = claims.get("aud")
    if isinstance(audience, str):
        return audience == client_id
    if isinstance(audience, list) and client_id in audience:
        # Several audiences: OIDC Core 3.1.3.7 wants azp to be this client.
        return len(audience) == 1 or claims.get("azp") == client_id
    return False


def acr_sufficient(acr) -> bool:
    return acr in ACR_LEVELS and ACR_LEVELS.index(acr) >= ACR_LEVELS.index(REQUIRED_ACR)


def check_id_token(token, keys: KeySet, *, issuer: str, client_id: str, nonce: str, now: float,
                   leeway: float = CLOCK_LEEWAY_SECONDS) -> dict:
    """The id_token's claims once every check passed; else a FranceConnectRefusal (or UnknownKey)."""
    claims = verify_signature(token, keys)
    if claims.get("iss") != issuer:
        raise FranceConnectRefusal("token_invalid", f"iss {claims.get('iss')!r}")
    if not _audience_ok(claims, client_id):
        raise FranceConnectRefusal("token_invalid", f"aud {claims.get('aud')!r}")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, (int, float)) or isinstance(expires, bool):
        raise FranceConnectRefusal("token_invalid", "no exp")
    if expires + leeway <= now:
        raise FranceConnectRefusal("token_expired", f"exp {expires} <= now {int(now)}")
    if isinstance(issued, (int, float)) and not isinstance(issued, bool) and issued - leeway > now:
        raise FranceConnectRefusal("token_invalid", "iat in the future")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise FranceConnectRefusal("token_invalid", "no sub")
    given_nonce = claims.get("nonce")
    if not isinstance(given_nonce, str) or not hmac.compare_digest(given_nonce.encode(), nonce.encode()):
        raise FranceConnectRefusal("nonce_invalid", "nonce differs")
    if not acr_sufficient(claims.get("acr")):
        raise FranceConnectRefusal("acr_insufficient", f"acr {claims.get('acr')!r}")
    return claims


def check_userinfo(token, keys: KeySet, *, issuer: str, client_id: str, sub: str) -> dict:
    """The userinfo, a JWT signed like the id_token: its `sub` must be the id_token's (OIDC Core 5.3.2), and its
    iss and aud, when given, the provider's and ours."""
    claims = verify_signature(token, keys, refusal="userinfo_invalid")
    if claims.get("sub") != sub:
        raise FranceConnectRefusal("userinfo_invalid", "sub differs from the id_token's")
    if "iss" in claims and claims["iss"] != issuer:
        raise FranceConnectRefusal("userinfo_invalid", f"iss {claims.get('iss')!r}")
    if "aud" in claims and not _audience_ok(claims, client_id):
        raise FranceConnectRefusal("userinfo_invalid", f"aud {claims.get('aud')!r}")
    return claims
