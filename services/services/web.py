"""What every service's Flask app shares: JSON errors with a code, the correlation id, liveness and readiness.

`ApiError` is how a view refuses a request: `raise ApiError(400, "invalid_pmi_number", "...")` gives
`{"error": {"code": "invalid_pmi_number", "message": "..."}}`. Messages meant for people are in French.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Mapping

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from services import correlation

log = logging.getLogger("services.web")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


_HTTP_MESSAGES = {
    400: "Requête invalide.", 401: "Authentification requise.", 403: "Accès refusé.", 404: "Ressource introuvable.",
    405: "Méthode non autorisée.", 413: "Requête trop volumineuse.", 415: "Type de contenu non pris en charge.",
    429: "Trop de requêtes, réessayez plus tard.", 500: "Erreur interne.", 503: "Service indisponible.",
}


def init_service_app(app: Flask, service: str, readiness: Mapping[str, Callable[[], None]]) -> Flask:
    """Attach correlation ids, request logs, JSON errors, `/healthz` and `/readyz` to a service's app."""
    app.config.setdefault("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    app.json.ensure_ascii = False

    @app.before_request
    def _bind_correlation():
        g.correlation_id = correlation.sanitize(request.headers.get(correlation.HEADER)) or correlation.new_id()
        g.correlation_token = correlation._current.set(g.correlation_id)
        g.started = time.perf_counter()

    @app.after_request
    def _log_and_tag(response):
        response.headers[correlation.HEADER] = g.get("correlation_id", "")
        if request.path not in ("/healthz", "/readyz"):
            log.info("request", extra={"method": request.method, "path": request.path,
                                       "status": response.status_code,
                                       "ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                                                   * 1000, 1)})
        return response

    @app.teardown_request
    def _unbind(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation._current.reset(token)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error_body(error.code, error.message, error.details)), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, _HTTP_MESSAGES.get(error.code, error.description or code))), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", _HTTP_MESSAGES[500])), 500

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz():
        checks, ready = {}, True
        for name, check in readiness.items():
            try:
                check()
                checks[name] = "ok"
            except Exception as error:  # report, never raise: this is a probe
                checks[name] = f"failed: {type(error).__name__}"
                ready = False
        return jsonify(status="ready" if ready else "not_ready", service=service, checks=checks), \
            200 if ready else 503

    return app


def create_service_app(package: str, service: str, container, blueprints, readiness=None) -> Flask:
    """A service's Flask app: its container under `app.extensions[package]`, the shared plumbing, its blueprints.
    `readiness` defaults to the container's (database and broker)."""
    app = Flask(package)
    app.extensions[package] = container
    init_service_app(app, service, readiness if readiness is not None else container.readiness())
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def json_body(required: tuple[str, ...] = ()) -> dict:
    """The request's JSON object, or a 400 ApiError naming what is wrong."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "Le corps de la requête doit être un objet JSON.")
    missing = [name for name in required if payload.get(name) in (None, "")]
    if missing:
        raise ApiError(400, "missing_fields", f"Champ(s) manquant(s) : {', '.join(missing)}.",
                       {"fields": missing})
    return payload


def parse_networks(value: str) -> tuple:
    """`TRUSTED_PROXIES` as written in settings: addresses or CIDR blocks, comma separated ("" = none)."""
    import ipaddress
    networks = []
    for part in (value or "").split(","):
        part = part.strip()
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return tuple(networks)


def _is_trusted(address: str, trusted) -> bool:
    import ipaddress
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in trusted)


def client_ip(req, trusted_proxies) -> str:
    """The address of the person behind a request. The remote address, unless it is one of `trusted_proxies`
    (networks from `parse_networks`, or its string form): then the right-most address of `X-Forwarded-For` that is
    not a trusted proxy. Left of that, anyone can write anything in the header, so it is never read; a request
    that does not come from a trusted proxy has its header ignored altogether (anyone could spoof one address
    per attempt and dodge every per-IP limit)."""
    import ipaddress
    trusted = parse_networks(trusted_proxies) if isinstance(trusted_proxies, str) else tuple(trusted_proxies or ())
    remote = (req.remote_addr or "").strip() or "unknown"
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    forwarded = ",".join(req.headers.getlist("X-Forwarded-For"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # garbage where an address should be: the last trustworthy hop is the proxy's
                return remote
    return hops[0] if hops else remote
