"""The versioned JSON API for other sites and for the page scripts: public reads passed through to the services.

The answers are the services' own JSON; refusals keep the service's status, code and French message.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gateway.bootstrap import current
from gateway.web.forms import parse_page
from services.web import ApiError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/fiches")
def fiches():
    commune, text = request.args.get("commune"), request.args.get("q")
    if not commune and not text:
        raise ApiError(400, "missing_query",
                       "Indiquez « commune » (code INSEE) ou « q » (nom de commune ou code postal).")
    return jsonify(current().clients.fiche.search(commune=commune, q=text, page=parse_page(request.args.get("page")),
                                                  per_page=parse_page(request.args.get("per_page"),
                                                                      name="per_page", maximum=1000)))


@bp.get("/fiches/<fiche_id>")
def fiche(fiche_id: str):
    return jsonify(current().clients.fiche.get(fiche_id))


@bp.get("/communes")
def communes():
    container = current()
    return jsonify(container.clients.geo.search_communes(request.args.get("q", ""), container.settings.departement,
                                                         parse_page(request.args.get("limit"), name="limit",
                                                                    maximum=1000)))
