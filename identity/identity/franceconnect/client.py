"""The FranceConnect provider seen from identity: its discovery document, its keys, the authorization URL, the
token request (client_secret_post), the signed userinfo, the end-session URL.

authlib's OAuth2Session builds the authorization URL and makes the token request. Its default leeway (60 s) would
count FranceConnect's access tokens, which live 60 s, as expired the moment they arrive, and then refuse to call
the userinfo endpoint: the session is given a leeway of a few seconds instead.
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.errors import AuthlibBaseError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from identity.franceconnect.domain import tokens
from identity.franceconnect.domain.refusals import FranceConnectRefusal

log = logging.getLogger("identity.franceconnect")

SCOPES = "openid given_name family_name birthdate gender birthplace birthcountry email preferred_username"
TIMEOUT = (3.0, 10.0)
DISCOVERY_MAX_AGE = 3600
JWKS_MIN_REFETCH_SECONDS = 30    # an unknown kid fetches the keys again, but a flood of forged kids cannot hammer
ACCESS_TOKEN_LEEWAY = 5          # seconds; authlib's default 60 would expire FranceConnect's 60 s tokens at once


class FranceConnectClient:
    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str,
                 http: requests.Session | None = None, clock=time.time):
        self.issuer = issuer.rstrip("/")
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.http = http or requests.Session()
        self.clock = clock
        self._lock = threading.Lock()
        self._discovery: dict | None = None
        self._discovery_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    # --- what the provider publishes -------------------------------------------------------------------------

    def _get(self, url: str) -> requests.Response:
        try:
            response = self.http.get(url, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as error:
            raise FranceConnectRefusal("franceconnect_unavailable", f"{url}: {type(error).__name__}") from None
        if response.status_code != 200:
            raise FranceConnectRefusal("franceconnect_unavailable", f"{url}: HTTP {response.status_code}")
        return response

    def discovery(self) -> dict:
        with self._lock:
            if self._discovery is None or self.clock() - self._discovery_at > DISCOVERY_MAX_AGE:
                try:
                    document = self._get(self.issuer + "/.well-known/openid-configuration").json()
                except ValueError:
                    raise FranceConnectRefusal("franceconnect_unavailable", "discovery is not JSON") from None
                needed = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                          "end_session_endpoint")
                if not isinstance(document, dict) or any(not isinstance(document.get(k), str) for k in needed):
                    raise FranceConnectRefusal("franceconnect_unavailable", "discovery lacks endpoints")
                if document["issuer"].rstrip("/") != self.issuer:
                    # OIDC Discovery 4.3: the issuer in the document must be the one asked for.
                    raise FranceConnectRefusal("franceconnect_unavailable", "discovery issuer differs")
                self._discovery, self._discovery_at = document, self.clock()
            return self._discovery

    def keys(self, refresh: bool = False) -> KeySet:
        with self._lock:
            stale = self._keys is None or (refresh and self.clock() - self._keys_at >= JWKS_MIN_REFETCH_SECONDS)
            if not stale:
                return self._keys
        uri = self.discovery()["jwks_uri"]
        try:
            key_set = KeySet.import_key_set(self._get(uri).json())
        except (ValueError, JoseError, TypeError, KeyError):
            raise FranceConnectRefusal("franceconnect_unavailable", "JWKS unreadable") from None
        with self._lock:
            self._keys, self._keys_at = key_set, self.clock()
            return key_set

    def _with_keys(self, check):
        """Run a check with the cached keys; on an unknown kid fetch the JWKS again once (the provider may have
        rotated) and retry; still unknown: the token is refused."""
        try:
            return check(self.keys())
        except tokens.UnknownKey:
            pass
        try:
            return check(self.keys(refresh=True))
        except tokens.UnknownKey as error:
            raise FranceConnectRefusal("token_invalid", f"unknown kid {error.args[0]!r}") from None

    # --- the flow --------------------------------------------------------------------------------------------

    def _session(self) -> OAuth2Session:
        return OAuth2Session(self.client_id, self.client_secret, scope=SCOPES, redirect_uri=self.redirect_uri,
                             token_endpoint_auth_method="client_secret_post", leeway=ACCESS_TOKEN_LEEWAY)

    def authorization_url(self, state: str, nonce: str) -> str:
        url, _state = self._session().create_authorization_url(
            self.discovery()["authorization_endpoint"], state=state, nonce=nonce, acr_values=tokens.REQUIRED_ACR,
            prompt="login")
        return url

    def exchange_code(self, code: str) -> dict:
        """The token response (access_token, id_token...) for an authorization code, client_secret_post."""
        session = self._session()
        try:
            token = session.fetch_token(self.discovery()["token_endpoint"], code=code,
                                        grant_type="authorization_code", timeout=TIMEOUT)
        except AuthlibBaseError as error:
            raise FranceConnectRefusal("code_invalid", f"token endpoint: {error.error}") from None
        except requests.RequestException as error:
            raise FranceConnectRefusal("franceconnect_unavailable", f"token: {type(error).__name__}") from None
        except ValueError:
            raise FranceConnectRefusal("franceconnect_unavailable", "token answer is not JSON") from None
        if not isinstance(token.get("access_token"), str) or not isinstance(token.get("id_token"), str):
            raise FranceConnectRefusal("code_invalid", "token answer lacks access_token or id_token")
        return token

    def check_id_token(self, id_token: str, nonce: str) -> dict:
        return self._with_keys(lambda keys: tokens.check_id_token(
            id_token, keys, issuer=self.discovery()["issuer"], client_id=self.client_id, nonce=nonce,
            now=self.clock()))

    def userinfo(self, token: dict, sub: str) -> dict:
        """The userinfo, fetched with the access token through authlib (which checks the token's life with our
        leeway) and verified as a signed JWT whose sub is the id_token's."""
        session = self._session()
        session.token = token
        try:
            response = session.get(self.discovery()["userinfo_endpoint"], timeout=TIMEOUT,
                                   headers={"Accept": "application/jwt"})
        except AuthlibBaseError as error:
            raise FranceConnectRefusal("userinfo_invalid", f"userinfo not requested: {error.error}") from None
        except requests.RequestException as error:
            raise FranceConnectRefusal("franceconnect_unavailable", f"userinfo: {type(error).__name__}") from None
        if response.status_code != 200:
            raise FranceConnectRefusal("userinfo_invalid", f"userinfo HTTP {response.status_code}")
        if not response.headers.get("Content-Type", "").startswith("application/jwt"):
            raise FranceConnectRefusal("userinfo_invalid", "userinfo is not a signed JWT")
        body = response.text.strip()
        return self._with_keys(lambda keys: tokens.check_userinfo(
            body, keys, issuer=self.discovery()["issuer"], client_id=self.client_id, sub=sub))

    def end_session_url(self, id_token: str, state: str, post_logout_redirect_uri: str) -> str:
        endpoint = self.discovery()["end_session_endpoint"]
        query = urlencode({"id_token_hint": id_token, "state": state,
                           "post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
