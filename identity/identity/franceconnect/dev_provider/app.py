"""THE DEVELOPMENT PROVIDER: a stand-in for FranceConnect v2 in local runs and tests, never for production.

What it does like FranceConnect v2: discovery at /.well-known/openid-configuration; authorization-code flow only,
refusing a request without `state` and `nonce` of at least 32 characters, `acr_values=eidas1`, the registered
redirect URI or the `openid` scope; a page to pick one of the test identities (identities.py) instead of an
identity provider; the token endpoint with client_secret_post only and single-use codes; access tokens living 60 s;
an id_token and a userinfo both signed ES256 (the userinfo is a JWT, `application/jwt`); its JWKS; end-session
with `id_token_hint`, `state` and the registered `post_logout_redirect_uri`. `sub` is opaque, stable and per client.

What it does not do: real identity providers, consent, encryption, eIDAS levels above 1. Everything is kept in
memory: a restart forgets codes and tokens (and makes a new key), which a development tool can afford.

`app.config["TAMPER"]` lets tests make it misbehave (another acr, a wrong key, `alg: none`, another sub in the
userinfo...) so that the portal's refusals are tested against the provider itself.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from identity.franceconnect.dev_provider.identities import LABELS, TEST_IDENTITIES

ACCESS_TOKEN_LIFETIME = 60
ID_TOKEN_LIFETIME = 60
CODE_LIFETIME = 60
REQUEST_LIFETIME = 600
SCOPES = ("openid", "given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry", "email",
          "preferred_username")
_LOCAL_ENVIRONMENTS = ("local", "test")


class RefusedOutsideDevelopment(RuntimeError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def create_app(issuer: str, client_id: str, client_secret: str, public_base_url: str, *,
               environment: str | None = None, clock=time.time) -> Flask:
    environment = environment if environment is not None else os.environ.get("ASSMAT_ENV", "production")
    if environment not in _LOCAL_ENVIRONMENTS:
        raise RefusedOutsideDevelopment(
            f"the FranceConnect development provider runs only in local runs and tests (ASSMAT_ENV={environment!r})")
    issuer = issuer.rstrip("/")
    base = public_base_url.rstrip("/")
    redirect_uris = {base + "/franceconnect/callback"}
    logout_uris = {base + "/"}
    key = ECKey.generate_key("P-256", parameters={"alg": "ES256", "use": "sig"}, private=True, auto_kid=True)
    lock = threading.Lock()
    pending: dict[str, dict] = {}     # authorization requests waiting for an identity to be picked
    codes: dict[str, dict] = {}
    access_tokens: dict[str, dict] = {}

    app = Flask("franceconnect_dev_provider")
    app.config["TAMPER"] = {}

    def tamper(name, default=None):
        return app.config["TAMPER"].get(name, default)

    def sub_for(identity: str) -> str:
        # Opaque and per client, like FranceConnect's: the same person has another sub at another service.
        return hashlib.sha256(f"{client_id}:{identity}".encode()).hexdigest() + "v1"

    def sign(claims: dict) -> str:
        if tamper("alg_none"):
            return _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + \
                _b64(json.dumps(claims).encode()) + "."
        signing_key = tamper("key") or key
        header = {"alg": "RS256" if signing_key.key_type == "RSA" else "ES256", "kid": tamper("kid", key.kid),
                  "typ": "JWT"}
        return jwt.encode(header, claims, signing_key)

    def page(title: str, body: str, status: int = 200):
        return (f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#161616}}
.warn{{background:#fff4e5;border-left:4px solid #b34000;padding:.5rem 1rem}}
button{{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem;border:1px solid #000091;
background:#f5f5fe;color:#000091;font-size:1rem;cursor:pointer}}</style></head><body>
<p class="warn"><strong>Outil de développement</strong> : fournisseur d'identité simulé pour les essais du portail.
Ce n'est pas FranceConnect.</p><h1>{html.escape(title)}</h1>{body}</body></html>""",
                status, {"Content-Type": "text/html; charset=utf-8"})

    def error_page(message: str):
        return page("Demande refusée", f"<p>{html.escape(message)}</p>", 400)

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify({
            "issuer": issuer,
            "authorization_endpoint": issuer + "/api/v2/authorize",
            "token_endpoint": issuer + "/api/v2/token",
            "userinfo_endpoint": issuer + "/api/v2/userinfo",
            "jwks_uri": issuer + "/api/v2/jwks",
            "end_session_endpoint": issuer + "/api/v2/session/end",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", *SCOPES[1:]],
            "acr_values_supported": ["eidas1"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
            "userinfo_signing_alg_values_supported": ["ES256", "RS256"],
            "prompt_values_supported": ["login", "consent"],
        })

    @app.get("/api/v2/jwks")
    def jwks():
        return jsonify({"keys": [key.as_dict(private=False)]})

    @app.get("/api/v2/authorize")
    def authorize():
        args = request.args
        if args.get("client_id") != client_id:
            return error_page("client_id inconnu.")
        if args.get("redirect_uri") not in redirect_uris:
            return error_page("redirect_uri non enregistrée pour ce client.")
        if args.get("response_type") != "code":
            return error_page("Seul le flux « authorization code » est accepté (response_type=code).")
        scopes = args.get("scope", "").split()
        if "openid" not in scopes or any(scope not in SCOPES for scope in scopes):
            return error_page("scope invalide : « openid » est requis, et seuls les scopes connus sont acceptés.")
        for name in ("state", "nonce"):
            if len(args.get(name, "")) < 32:
                return error_page(f"{name} doit comporter au moins 32 caractères.")
        if args.get("acr_values") != "eidas1":
            return error_page("acr_values doit valoir eidas1.")
        request_id = secrets.token_urlsafe(24)
        with lock:
            pending[request_id] = {"redirect_uri": args["redirect_uri"], "state": args["state"],
                                   "nonce": args["nonce"], "scopes": scopes, "at": clock()}
        buttons = "".join(
            f'<form method="post" action="/api/v2/authorize/choose"><input type="hidden" name="request" '
            f'value="{request_id}"><input type="hidden" name="identity" value="{name}">'
            f'<button type="submit">{html.escape(LABELS[name])}</button></form>'
            for name in TEST_IDENTITIES)
        cancel = (f'<form method="post" action="/api/v2/authorize/choose"><input type="hidden" name="request" '
                  f'value="{request_id}"><input type="hidden" name="identity" value="">'
                  f'<button type="submit">Annuler et revenir au portail</button></form>')
        return page("Choisissez une identité de test", f"<p>prompt={html.escape(args.get('prompt', ''))}</p>"
                    + buttons + cancel)

    @app.post("/api/v2/authorize/choose")
    def choose():
        with lock:
            auth = pending.pop(request.form.get("request", ""), None)
        if auth is None or clock() - auth["at"] > REQUEST_LIFETIME:
            return error_page("Cette demande a expiré : recommencez depuis le portail.")
        identity = request.form.get("identity", "")
        if identity not in TEST_IDENTITIES:
            query = urlencode({"error": "access_denied", "error_description": "User canceled the authentication",
                               "state": auth["state"]})
            return redirect(f"{auth['redirect_uri']}?{query}", 302)
        code = secrets.token_urlsafe(32)
        with lock:
            codes[code] = {**auth, "identity": identity, "at": clock()}
        return redirect(f"{auth['redirect_uri']}?{urlencode({'code': code, 'state': auth['state']})}", 302)

    def token_error(error: str, description: str, status: int = 400):
        return jsonify(error=error, error_description=description), status

    @app.post("/api/v2/token")
    def token():
        form = request.form
        if request.authorization is not None:
            return token_error("invalid_client", "only client_secret_post is accepted", 401)
        if form.get("client_id") != client_id or not hmac.compare_digest(
                form.get("client_secret", "").encode(), client_secret.encode()):
            return token_error("invalid_client", "wrong client_id or client_secret", 401)
        if form.get("grant_type") != "authorization_code":
            return token_error("unsupported_grant_type", "authorization_code only")
        with lock:
            grant = codes.pop(form.get("code", ""), None)
        if grant is None or clock() - grant["at"] > CODE_LIFETIME:
            return token_error("invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return token_error("invalid_grant", "redirect_uri differs from the authorization request's")
        now = int(clock())
        access_token = secrets.token_urlsafe(32)
        with lock:
            access_tokens[access_token] = {**grant, "expires_at": now + ACCESS_TOKEN_LIFETIME}
        claims = {"iss": issuer, "sub": sub_for(grant["identity"]), "aud": client_id, "iat": now,
                  "exp": now + ID_TOKEN_LIFETIME, "auth_time": now, "nonce": grant["nonce"], "acr": "eidas1",
                  "amr": ["pwd"]}
        claims.update(tamper("id_token", {}))
        return jsonify(access_token=access_token, token_type="Bearer", expires_in=ACCESS_TOKEN_LIFETIME,
                       id_token=sign(claims), scope=" ".join(grant["scopes"]))

    @app.get("/api/v2/userinfo")
    def userinfo():
        header = request.headers.get("Authorization", "")
        token_ = header[7:] if header.startswith("Bearer ") else ""
        with lock:
            grant = access_tokens.get(token_)
        if grant is None or grant["expires_at"] <= clock():
            return jsonify(error="invalid_token", error_description="unknown or expired access token"), 401
        person = TEST_IDENTITIES[grant["identity"]]
        claims = {"iss": issuer, "aud": client_id, "sub": sub_for(grant["identity"])}
        claims.update({name: person[name] for name in grant["scopes"] if name in person})
        claims.update(tamper("userinfo", {}))
        return sign(claims), 200, {"Content-Type": "application/jwt"}

    @app.get("/api/v2/session/end")
    def end_session():
        args = request.args
        if args.get("post_logout_redirect_uri") not in logout_uris:
            return error_page("post_logout_redirect_uri non enregistrée pour ce client.")
        if len(args.get("state", "")) < 32:
            return error_page("state doit comporter au moins 32 caractères.")
        try:
            hint = jwt.decode(args.get("id_token_hint", ""), key, algorithms=["ES256"]).claims
        except (JoseError, ValueError, UnicodeError):
            return error_page("id_token_hint invalide.")
        if hint.get("aud") != client_id or hint.get("iss") != issuer:
            return error_page("id_token_hint émis pour un autre client.")
        query = urlencode({"state": args["state"]})
        return redirect(f"{args['post_logout_redirect_uri']}?{query}", 302)

    @app.get("/")
    def index():
        return page("Fournisseur FranceConnect de développement",
                    "<p>Découverte : <code>/.well-known/openid-configuration</code>.</p>")

    @app.errorhandler(405)
    def _method(_error):
        return error_page("Méthode non acceptée.")

    app.extensions["franceconnect_dev"] = {"key": key, "sub_for": sub_for, "codes": codes,
                                           "access_tokens": access_tokens}
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity.franceconnect.dev_provider",
                                     description="Fournisseur FranceConnect de DÉVELOPPEMENT (jamais en production)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("FRANCECONNECT_DEV_PORT", "8106")))
    args = parser.parse_args(argv)
    try:
        app = create_app(os.environ.get("FRANCECONNECT_ISSUER") or f"http://{args.host}:{args.port}",
                         os.environ.get("FRANCECONNECT_CLIENT_ID", ""),
                         os.environ.get("FRANCECONNECT_CLIENT_SECRET", ""),
                         os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000"))
    except RefusedOutsideDevelopment as error:
        print(f"Refusé : {error}")
        return 2
    if not os.environ.get("FRANCECONNECT_CLIENT_ID") or \
            not os.environ.get("FRANCECONNECT_CLIENT_SECRET"):
        print("Refusé : FRANCECONNECT_CLIENT_ID et FRANCECONNECT_CLIENT_SECRET doivent être définis.")
        return 2
    from werkzeug.serving import run_simple
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0
