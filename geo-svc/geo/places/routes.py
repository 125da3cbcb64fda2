"""GET /api/places/<place_id>."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from geo.places import queries
from services.web import ApiError

bp = Blueprint("places", __name__, url_prefix="/api")


@bp.get("/places/<place_id>")
def get_place(place_id: str):
    with current_app.extensions["geo"].session_factory() as session:
        place = queries.get_place(session, place_id)
    if place is None:
        raise ApiError(404, "place_not_found", "Lieu d'exercice inconnu.")
    return jsonify(place)
