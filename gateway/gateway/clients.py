"""Every call the gateway makes to another service: one typed client per service, every downstream path here.

They all go through `Downstream`, which forwards the caller's bearer token and the correlation id, bounds each call
with timeouts, and turns a refusal into a `DownstreamError` that carries the service's own code and French message
(shown to people as is). A service that does not answer, or answers 5xx, raises `ServiceUnavailable` instead.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import requests
from flask import has_request_context, request

from services import correlation
from services.web import client_ip, parse_networks

log = logging.getLogger("gateway.clients")

TIMEOUT = (2.0, 10.0)          # seconds: connect, read
HEALTH_TIMEOUT = (1.0, 2.0)    # a readiness probe checks five services in a row: keep it short
UNAVAILABLE_MESSAGE = "Ce service est temporairement indisponible. Réessayez dans quelques minutes."
_FALLBACK_MESSAGES = {404: "Ressource introuvable.", 401: "Authentification requise.", 403: "Accès refusé.",
                      429: "Trop de demandes, réessayez dans quelques minutes."}


class DownstreamError(Exception):
    def __init__(self, status: int, code: str, message: str, service: str = "", retry_after: int | None = None,
                 fields: dict[str, str] | None = None):
        super().__init__(f"{service}: {status} {code}")
        self.status, self.code, self.message, self.service = status, code, message, service
        self.retry_after = retry_after  # seconds, on a 429 too_many_attempts
        self.fields = fields or {}      # a refusal field by field (`error.details.fields`), shown beside each field


class ServiceUnavailable(Exception):
    """Not a refusal (that is DownstreamError): the service could not answer at all, so callers let it propagate."""
    status, code, message = 503, "service_unavailable", UNAVAILABLE_MESSAGE

    def __init__(self, service: str):
        super().__init__(f"{service} unavailable")
        self.service = service


def _segment(value: str) -> str:
    """A path segment taken from the browser can never reach another path of the service."""
    return quote(str(value), safe="")


class Downstream:
    """The one HTTP helper under every client."""

    def __init__(self, service: str, base_url: str, http: requests.Session, trusted_proxies: tuple = ()):
        self.service, self.base_url, self.http = service, base_url.rstrip("/"), http
        self.trusted_proxies = trusted_proxies

    def request(self, method: str, path: str, *, token: str | None = None, params: dict | None = None,
                json: dict | None = None, accept: str = "application/json",
                timeout: tuple[float, float] = TIMEOUT) -> requests.Response:
        headers = {"Accept": accept}
        if correlation.current():
            headers[correlation.HEADER] = correlation.current()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if has_request_context():
            # The services throttle per client address: they get the browser's, as the gateway itself judged it
            # (its own trusted proxies only); they believe the header from the gateway's address alone.
            headers["X-Forwarded-For"] = client_ip(request, self.trusted_proxies)
        try:
            response = self.http.request(method, self.base_url + path, params=params, json=json, headers=headers,
                                         timeout=timeout, allow_redirects=False)
        except requests.RequestException as error:
            log.warning("downstream unreachable", extra={"downstream": self.service, "path": path,
                                                         "error": type(error).__name__})
            raise ServiceUnavailable(self.service) from error
        if response.status_code >= 500:
            log.warning("downstream failed", extra={"downstream": self.service, "path": path,
                                                    "status": response.status_code})
            raise ServiceUnavailable(self.service)
        if response.status_code >= 400:
            raise self._refusal(response)
        return response

    def json(self, method: str, path: str, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            log.warning("downstream answered non-JSON", extra={"downstream": self.service, "path": path})
            raise ServiceUnavailable(self.service) from None

    def _refusal(self, response: requests.Response) -> DownstreamError:
        retry_after, fields = None, None
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
            if isinstance(error.get("retry_after"), int):
                retry_after = error["retry_after"]
            details = error.get("details")
            if isinstance(details, dict) and isinstance(details.get("fields"), dict):
                fields = {str(name): str(text) for name, text in details["fields"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            code = f"http_{response.status_code}"
            message = _FALLBACK_MESSAGES.get(response.status_code, "La demande a été refusée.")
        return DownstreamError(response.status_code, code, message, self.service, retry_after, fields)

    def health(self) -> None:
        self.request("GET", "/healthz", timeout=HEALTH_TIMEOUT)


class ServiceClient:
    def __init__(self, downstream: Downstream):
        self.downstream = downstream


class GeoClient(ServiceClient):
    def search_communes(self, q: str, departement: str | None, limit: int | str | None = None) -> dict:
        return self.downstream.json("GET", "/api/communes",
                                    params={"q": q, "departement": departement, "limit": limit})

    # Geolocation (issue 9): the assmat's correction requests, support's review.
    def my_geolocation(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/geolocation/me", token=token)

    def request_correction(self, token: str, link: str, comment: str) -> dict:
        return self.downstream.json("POST", "/api/geolocation/me/corrections", token=token,
                                    json={"link": link, "comment": comment})

    def corrections(self, token: str, status: str = "pending") -> dict:
        return self.downstream.json("GET", "/api/corrections", token=token, params={"status": status})

    def correction(self, token: str, correction_id: str) -> dict:
        return self.downstream.json("GET", f"/api/corrections/{_segment(correction_id)}", token=token)

    def decide_correction(self, token: str, correction_id: str, decision: str, reason: str) -> dict:
        return self.downstream.json("POST", f"/api/corrections/{_segment(correction_id)}/decision", token=token,
                                    json={"decision": decision, "reason": reason})

    def review_places(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/review/places", token=token)

    def confirm_place(self, token: str, place_id: str) -> dict:
        return self.downstream.json("POST", f"/api/review/places/{_segment(place_id)}/confirm", token=token)


class FicheClient(ServiceClient):
    def search(self, *, commune: str | None = None, q: str | None = None, page: int | str | None = None,
               per_page: int | str | None = None) -> dict:
        return self.downstream.json("GET", "/api/fiches", params={"commune": commune, "q": q, "page": page,
                                                                  "per_page": per_page})

    def get(self, fiche_id: str) -> dict:
        return self.downstream.json("GET", f"/api/fiches/{_segment(fiche_id)}")


class IdentityClient(ServiceClient):
    def check_activation(self, pmi_number: str, birth_date: str, captcha: dict | None = None) -> dict:
        return self.downstream.json("POST", "/api/activation/check",
                                    json={"pmi_number": pmi_number, "birth_date": birth_date, **(captcha or {})})

    def new_captcha(self) -> dict:
        """A new challenge: `{"id", "image", "audio"}` (identity's paths; the pages use the gateway's)."""
        return self.downstream.json("POST", "/api/captcha")

    def captcha_media(self, challenge_id: str, kind: str) -> tuple[bytes, str]:
        """The image (`png`) or sound (`wav`) of a challenge, as (bytes, content type)."""
        response = self.downstream.request("GET", f"/api/captcha/{_segment(challenge_id)}.{kind}", accept="*/*")
        return response.content, response.headers.get("Content-Type", "application/octet-stream")

    def security_summary(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/security/summary", token=token)

    def complete_activation(self, ticket: str, email: str, password: str) -> dict:
        return self.downstream.json("POST", "/api/activation/complete",
                                    json={"ticket": ticket, "email": email, "password": password})

    def confirm_activation(self, token: str) -> dict:
        return self.downstream.json("POST", "/api/activation/confirm", json={"token": token})

    def resend_activation(self, ticket: str) -> dict:
        return self.downstream.json("POST", "/api/activation/resend", json={"ticket": ticket})

    def login(self, login: str, password: str, captcha: dict | None = None, account_type: str | None = None) -> dict:
        """`login`: a PMI number or an e-mail (identity tells them apart)."""
        body = {"login": login, "password": password, **(captcha or {})}
        if account_type:
            body["account_type"] = account_type
        return self.downstream.json("POST", "/api/sessions", json=body)

    def request_password_reset(self, email: str, account_type: str) -> dict:
        return self.downstream.json("POST", "/api/recovery/request",
                                    json={"email": email, "account_type": account_type})

    def check_password_reset(self, token: str) -> dict:
        return self.downstream.json("POST", "/api/recovery/check", json={"token": token})

    def complete_password_reset(self, token: str, password: str) -> dict:
        return self.downstream.json("POST", "/api/recovery/complete", json={"token": token, "password": password})

    def staff_login(self, email: str, password: str, totp: str) -> dict:
        return self.downstream.json("POST", "/api/staff/sessions",
                                    json={"email": email, "password": password, "totp": totp})

    def staff_me(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/staff/me", token=token)

    def refresh(self, refresh_token: str) -> dict:
        return self.downstream.json("POST", "/api/sessions/refresh", json={"refresh_token": refresh_token})

    def logout(self, refresh_token: str) -> None:
        self.downstream.request("POST", "/api/sessions/logout", json={"refresh_token": refresh_token})

    def franceconnect_authorize(self, purpose: str, ticket: str | None = None) -> dict:
        return self.downstream.json("POST", "/api/franceconnect/authorize",
                                    json={"purpose": purpose, **({"ticket": ticket} if ticket else {})})

    def franceconnect_callback(self, state: str, code: str) -> dict:
        return self.downstream.json("POST", "/api/franceconnect/callback", json={"state": state, "code": code})

    def franceconnect_logout(self, id_token: str) -> dict:
        return self.downstream.json("POST", "/api/franceconnect/logout", json={"id_token": id_token})

    def franceconnect_logout_return(self, state: str) -> None:
        self.downstream.request("POST", "/api/franceconnect/logout/return", json={"state": state})


class AgrementClient(ServiceClient):
    def my_agrement(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/agrements/me", token=token)

    def my_history(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/agrements/me/history", token=token)

    def submit_report(self, token: str, body: dict) -> dict:
        """`body`: kind, text, the kind's fields, `attachments` as [{"file_name", "content" (base64)}]."""
        return self.downstream.json("POST", "/api/reports", token=token, json=body)

    def my_reports(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/reports/mine", token=token)

    # The back office (staff tokens; agrement-svc scopes every answer by the token's circonscriptions).
    def backoffice_reports(self, token: str, status: str | None = None) -> dict:
        return self.downstream.json("GET", "/api/backoffice/reports", token=token, params={"status": status})

    def backoffice_report(self, token: str, report_id: str) -> dict:
        return self.downstream.json("GET", f"/api/backoffice/reports/{_segment(report_id)}", token=token)

    def backoffice_attachment(self, token: str, report_id: str, attachment_id: str) -> tuple[bytes, str]:
        response = self.downstream.request(
            "GET", f"/api/backoffice/reports/{_segment(report_id)}/attachments/{_segment(attachment_id)}",
            token=token, accept="*/*")
        return response.content, response.headers.get("Content-Type", "application/octet-stream")

    def move_report(self, token: str, report_id: str, status: str, message: str) -> dict:
        return self.downstream.json("POST", f"/api/backoffice/reports/{_segment(report_id)}/status", token=token,
                                    json={"status": status, "message": message})

    def backoffice_agrement(self, token: str, pmi_number: str) -> dict:
        return self.downstream.json("GET", f"/api/backoffice/agrements/{_segment(pmi_number)}", token=token)

    def mairie_list(self, token: str, insee_code: str, kind: str) -> tuple[bytes, str, str]:
        """A commune's list for its mairie: (bytes, content type, Content-Disposition)."""
        response = self.downstream.request("GET", f"/api/backoffice/mairie-lists/{_segment(insee_code)}.{kind}",
                                           token=token, accept="*/*")
        return (response.content, response.headers.get("Content-Type", "application/octet-stream"),
                response.headers.get("Content-Disposition", "attachment"))

    def backoffice_declarations(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/backoffice/declarations", token=token)

    def backoffice_oppositions(self, token: str) -> dict:
        return self.downstream.json("GET", "/api/backoffice/oppositions", token=token)

    def decide(self, token: str, pmi_number: str, body: dict) -> dict:
        return self.downstream.json("POST", f"/api/backoffice/agrements/{_segment(pmi_number)}/decisions",
                                    token=token, json=body)


class NotifyClient(ServiceClient):
    def sink_page(self, subpath: str) -> tuple[str, str]:
        """A page of the local mail sink, as (html, content type)."""
        path = "/sink" + ("/" + quote(subpath, safe="/") if subpath else "")
        response = self.downstream.request("GET", path, accept="text/html")
        return response.text, response.headers.get("Content-Type", "text/html; charset=utf-8")


@dataclass(frozen=True)
class Clients:
    identity: IdentityClient
    agrement: AgrementClient
    fiche: FicheClient
    geo: GeoClient
    notify: NotifyClient

    @classmethod
    def build(cls, settings, http: requests.Session | None = None) -> Clients:
        http = http or requests.Session()
        proxies = parse_networks(getattr(settings, "trusted_proxies", ""))
        return cls(identity=IdentityClient(Downstream("identity", settings.identity_url, http, proxies)),
                   agrement=AgrementClient(Downstream("agrement-svc", settings.agrement_url, http, proxies)),
                   fiche=FicheClient(Downstream("fiche-svc", settings.fiche_url, http, proxies)),
                   geo=GeoClient(Downstream("geo-svc", settings.geo_url, http, proxies)),
                   notify=NotifyClient(Downstream("notify-svc", settings.notify_url, http, proxies)))

    def readiness(self) -> dict[str, Callable[[], None]]:
        """The gateway is ready when every service it calls answers its liveness probe."""
        return {client.downstream.service: client.downstream.health
                for client in (self.identity, self.agrement, self.fiche, self.geo, self.notify)}
