"""Errors as people see them: French pages for the site, `{"error": {"code", "message"}}` for `/api/`.

The kernel's handlers answer JSON everywhere; the gateway replaces them for pages and keeps the same JSON shape
(services.web.error_body) for its API.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from gateway.clients import DownstreamError, ServiceUnavailable
from services.web import error_body

log = logging.getLogger("gateway.errors")

PAGES = {
    400: ("Demande incorrecte",
          ("La demande n'a pas pu être traitée. Si vous remplissiez un formulaire, il a peut-être expiré : revenez "
           "en arrière, rechargez la page et réessayez.")),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable",
          ("Cette page n'existe pas ou plus. Si vous avez saisi l'adresse, vérifiez-la ; sinon, repartez de la "
           "page d'accueil.")),
    405: ("Demande incorrecte", "Cette page ne s'utilise pas de cette façon. Repartez de la page d'accueil."),
    413: ("Envoi trop volumineux", "Ce que vous avez envoyé est trop volumineux."),
    429: ("Trop de demandes", "Trop de demandes en peu de temps. Patientez quelques minutes puis réessayez."),
    500: ("Une erreur est survenue",
          "Une erreur inattendue nous empêche d'afficher cette page. Réessayez dans quelques minutes."),
    503: ("Service temporairement indisponible",
          ("Une partie du site ne répond pas pour le moment. Réessayez dans quelques minutes : vos informations "
           "n'ont pas été perdues.")),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, message: str | None = None, title: str | None = None):
    default_title, default_message = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    return render_template("error.html", status=status, title=title or default_title,
                           message=message or default_message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if _wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            return jsonify(error_body(code, PAGES.get(error.code, PAGES[400])[0] + ".")), error.code
        return error_page(error.code)

    @app.errorhandler(DownstreamError)
    @app.errorhandler(ServiceUnavailable)
    def _downstream_error(error: DownstreamError | ServiceUnavailable):
        if _wants_json():
            return jsonify(error_body(error.code, error.message)), error.status
        if isinstance(error, ServiceUnavailable):
            return error_page(503)
        return error_page(error.status, None if error.status == 404 else error.message)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        if _wants_json():
            return jsonify(error_body("internal_error", "Erreur interne.")), 500
        return error_page(500)
