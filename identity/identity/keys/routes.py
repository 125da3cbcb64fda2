"""The public half of identity's signing keys, fetched by every service that verifies its tokens."""
from __future__ import annotations

from flask import jsonify

from identity.adapters.keys import JWKS_MAX_AGE_SECONDS
from identity.web import blueprint, current_container

bp = blueprint("keys", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(current_container().keys.public_jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return response
