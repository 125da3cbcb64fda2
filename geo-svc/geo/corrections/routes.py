"""The assmat's geolocation and correction requests; support's corrections, review queue and reverse geocoding.

| GET  /api/geolocation/me                      | assmat: her place, its pin, her last requests |
| POST /api/geolocation/me/corrections          | assmat: `{link, comment}` -> 201 the pending request |
| GET  /api/corrections?status=pending          | support: the requests to decide |
| GET  /api/corrections/<id>                    | support: one request beside the current pin |
| POST /api/corrections/<id>/decision           | support: `{decision: accept | refuse, reason}` |
| GET  /api/review/places                       | support: weak geocoding results |
| POST /api/review/places/<place_id>/confirm    | support: keep a weak result, out of the queue |
| GET  /api/reverse?lat=&lon=                   | support: the address at a point |
"""
from __future__ import annotations

import math

from flask import Blueprint, current_app, g, jsonify, request

from geo.corrections import commands, queries
from geo.adapters.geocoders import GeocoderUnavailable
from services.auth import require_token
from services.web import ApiError

bp = Blueprint("corrections", __name__, url_prefix="/api")
SUPPORT_ROLES = ("support", "admin")
STATUSES = ("pending", "accepted", "refused", "withdrawn")


def _container():
    return current_app.extensions["geo"]


def _verifier():
    return _container().verifier


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "Le corps de la requête doit être un objet JSON.")
    return body


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{name}", f"« {name} » doit être un texte.")
    return value


def _own_place_id() -> str:
    pmi_number = g.principal.claims.get("pmi_number")
    if not pmi_number:
        raise ApiError(403, "no_pmi_number", "Ce compte n'est rattaché à aucun agrément.")
    return str(pmi_number)


def _refusal(error: commands.CorrectionRefused):
    response = jsonify(error={"code": error.code, "message": error.message,
                              **({"field": error.field} if error.field else {})})
    return response, error.status


@bp.get("/geolocation/me")
@require_token(_verifier, roles=("assmat",))
def my_geolocation():
    with _container().session_factory() as session:
        found = queries.own_geolocation(session, _own_place_id())
    if found is None:
        raise ApiError(404, "place_not_found", "Votre lieu d'accueil n'est pas encore localisé.")
    return jsonify(found)


@bp.post("/geolocation/me/corrections")
@require_token(_verifier, roles=("assmat",))
def request_correction():
    body = _body()
    try:
        correction = commands.request_correction(_container().session_factory, _container().settings,
                                                 _own_place_id(), str(g.principal.subject), _text(body, "link"),
                                                 _text(body, "comment"))
    except commands.CorrectionRefused as error:
        return _refusal(error)
    return jsonify(correction), 201


@bp.get("/corrections")
@require_token(_verifier, roles=SUPPORT_ROLES)
def list_corrections():
    status = request.args.get("status", "pending")
    if status not in STATUSES:
        raise ApiError(400, "invalid_status", "Statut inconnu : pending, accepted, refused ou withdrawn.")
    with _container().session_factory() as session:
        return jsonify(corrections=queries.list_corrections(session, status))


@bp.get("/corrections/<correction_id>")
@require_token(_verifier, roles=SUPPORT_ROLES)
def get_correction(correction_id: str):
    with _container().session_factory() as session:
        found = queries.get_correction(session, correction_id)
    if found is None:
        raise ApiError(404, "correction_not_found", "Demande de correction inconnue.")
    found["tile_url"] = _container().settings.tile_url or None
    # What the geocoder knows at the proposed point, to help support judge it; the page works without it.
    try:
        near = _container().geocoder.reverse(found["latitude"], found["longitude"])
    except GeocoderUnavailable:
        near = None
    found["proposal_address"] = {"label": near.label, "type": near.type, "source": near.source} if near else None
    return jsonify(found)


@bp.post("/corrections/<correction_id>/decision")
@require_token(_verifier, roles=SUPPORT_ROLES)
def decide(correction_id: str):
    body = _body()
    try:
        answer = commands.decide_correction(_container().session_factory, _container().settings, correction_id,
                                            str(g.principal.subject), _text(body, "decision"),
                                            _text(body, "reason"))
    except commands.CorrectionRefused as error:
        return _refusal(error)
    return jsonify(answer)


@bp.get("/review/places")
@require_token(_verifier, roles=SUPPORT_ROLES)
def review_queue():
    with _container().session_factory() as session:
        return jsonify(places=queries.review_queue(session))


@bp.post("/review/places/<place_id>/confirm")
@require_token(_verifier, roles=SUPPORT_ROLES)
def confirm(place_id: str):
    if not commands.confirm_place(_container().session_factory, place_id):
        raise ApiError(404, "place_not_found", "Lieu d'exercice inconnu.")
    return jsonify(place_id=place_id, needs_review=False)


def _coordinate(name: str, low: float, high: float) -> float:
    raw = request.args.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_coordinates", f"« {name} » doit être un nombre.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ApiError(400, "invalid_coordinates", f"« {name} » est hors des limites.")
    return value


@bp.get("/reverse")
@require_token(_verifier, roles=SUPPORT_ROLES)
def reverse():
    lat, lon = _coordinate("lat", -90, 90), _coordinate("lon", -180, 180)
    try:
        result = _container().geocoder.reverse(lat, lon)
    except GeocoderUnavailable:
        raise ApiError(503, "geocoder_unavailable", "Le service d'adresses ne répond pas. Réessayez plus tard.") \
            from None
    if result is None:
        raise ApiError(404, "nothing_here", "Aucune adresse connue à ce point.")
    return jsonify(latitude=result.latitude, longitude=result.longitude, type=result.type, score=result.score,
                   label=result.label, citycode=result.citycode, source=result.source)
