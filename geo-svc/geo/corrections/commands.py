"""Correction requests: asked by the assmat, decided by support. Each writes its rows and its events in one
transaction (the outbox)."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from geo.adapters.orm import communes, corrections, places
from geo.corrections.domain import InvalidLink, check_proposal, parse_map_link
from geo.geocoding.domain import GeocodeResult, public_pin
from geo.places.consumers import located_event
from geo.places.domain import Address, address_key
from services.catalogue.geo import CORRECTION_DECIDED, CORRECTION_REQUESTED
from services.db import UnitOfWork

MAX_COMMENT = 500


class CorrectionRefused(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def _commune(session, insee_code: str):
    return session.execute(sa.select(communes).where(communes.c.insee_code == insee_code)).mappings().first()


def request_correction(session_factory, settings, place_id: str, account_id: str, link: str,
                       comment: str = "") -> dict:
    """The assmat's request: the link parsed and checked against her place's commune; a pending request of hers
    is replaced (she may paste a better link before support looks)."""
    if len(comment or "") > MAX_COMMENT:
        raise CorrectionRefused(400, "comment_too_long", f"Le commentaire dépasse {MAX_COMMENT} caractères.",
                                "comment")
    with UnitOfWork(session_factory) as uow:
        session = uow.session
        place = session.execute(sa.select(places).where(places.c.place_id == place_id)).mappings().first()
        if place is None:
            raise CorrectionRefused(404, "place_not_found", "Votre lieu d'accueil n'est pas encore localisé : "
                                    "réessayez dans quelques minutes.")
        commune = _commune(session, place["commune_insee"] or "")
        try:
            point = parse_map_link(link)
            check_proposal(point, commune and commune["latitude"], commune and commune["longitude"],
                           settings.correction_max_km * 1000)
        except InvalidLink as error:
            raise CorrectionRefused(400, error.code, error.message, "link") from None
        now = dt.datetime.now(dt.timezone.utc)
        session.execute(corrections.update().where(corrections.c.place_id == place_id,
                                                   corrections.c.status == "pending")
                        .values(status="withdrawn", decided_at=now))
        row = {"correction_id": str(uuid.uuid4()), "place_id": place_id, "account_id": account_id,
               "link": link.strip()[:2000], "latitude": point.latitude, "longitude": point.longitude,
               "zoom": point.zoom, "comment": (comment or "").strip() or None, "status": "pending",
               "address_key": address_key(Address(place["address_line"] or "", place["postcode"] or "",
                                                  place["commune_insee"] or "")),
               "previous_latitude": place["latitude"], "previous_longitude": place["longitude"],
               "requested_at": now}
        session.execute(corrections.insert().values(**row))
        uow.add_event(CORRECTION_REQUESTED.build(place_id, {
            "correction_id": row["correction_id"], "place_id": place_id, "account_id": account_id,
            "commune_insee": place["commune_insee"], "latitude": point.latitude, "longitude": point.longitude,
            "requested_at": now.isoformat()}))
        uow.commit()
    return {**row, "requested_at": now.isoformat()}


def decide_correction(session_factory, settings, correction_id: str, staff_id: str, decision: str,
                      reason: str = "") -> dict:
    """Support accepts (the place moves to the proposed point, kept for this address over later geocoding) or
    refuses (a reason is required: the assmat's mail tells it)."""
    reason = (reason or "").strip()
    if decision not in ("accept", "refuse"):
        raise CorrectionRefused(400, "invalid_decision", "Choisissez d'accepter ou de refuser la demande.",
                                "decision")
    if decision == "refuse" and not reason:
        raise CorrectionRefused(400, "reason_required", "Indiquez le motif du refus : il est envoyé à l'assistant·e "
                                "maternel·le.", "reason")
    if len(reason) > MAX_COMMENT:
        raise CorrectionRefused(400, "reason_too_long", f"Le motif dépasse {MAX_COMMENT} caractères.", "reason")
    with UnitOfWork(session_factory) as uow:
        session = uow.session
        correction = session.execute(sa.select(corrections).where(corrections.c.correction_id == correction_id)
                                     .with_for_update()).mappings().first()
        if correction is None:
            raise CorrectionRefused(404, "correction_not_found", "Demande de correction inconnue.")
        if correction["status"] != "pending":
            raise CorrectionRefused(409, "already_decided", "Cette demande a déjà été traitée ou remplacée.")
        place = session.execute(sa.select(places).where(places.c.place_id == correction["place_id"])
                                .with_for_update()).mappings().first()
        commune = _commune(session, place["commune_insee"] or "")
        address = Address(place["address_line"] or "", place["postcode"] or "", place["commune_insee"] or "")
        if decision == "accept" and correction["address_key"] != address_key(address):
            # She moved since she asked: the point was meant for the old address.
            raise CorrectionRefused(409, "address_changed", "L'adresse du lieu d'accueil a changé depuis la "
                                    "demande : refusez-la, l'assistant·e maternel·le pourra en faire une nouvelle.",
                                    "decision")
        now = dt.datetime.now(dt.timezone.utc)
        status = "accepted" if decision == "accept" else "refused"
        session.execute(corrections.update().where(corrections.c.correction_id == correction_id).values(
            status=status, decided_at=now, decided_by=staff_id, decision_reason=reason or None))
        if status == "accepted":
            lat, lon = correction["latitude"], correction["longitude"]
            pub = public_pin(lat, lon, settings.public_pin, settings.blur_metres)
            session.execute(places.update().where(places.c.place_id == place["place_id"]).values(
                latitude=lat, longitude=lon, precision="housenumber", score=1.0, source="correction",
                needs_review=False, review_reason=None, public_latitude=pub[0], public_longitude=pub[1],
                corrected_latitude=lat, corrected_longitude=lon, corrected_address=address_key(address),
                located_at=now))
            result = GeocodeResult(lat, lon, "housenumber", 1.0, place["label"] or "", address.commune_insee,
                                   "correction")
            uow.add_event(located_event(place["place_id"], address, commune["name"] if commune else "", result,
                                        pub, False))
        uow.add_event(CORRECTION_DECIDED.build(place["place_id"], {
            "correction_id": correction_id, "place_id": place["place_id"], "account_id": correction["account_id"],
            "commune_insee": place["commune_insee"], "commune_name": commune["name"] if commune else "",
            "decision": status, "reason": reason, "latitude": correction["latitude"],
            "longitude": correction["longitude"], "requested_at": correction["requested_at"].isoformat()
            if hasattr(correction["requested_at"], "isoformat") else str(correction["requested_at"]),
            "decided_at": now.isoformat()}))
        uow.commit()
    return {"correction_id": correction_id, "status": status}


def confirm_place(session_factory, place_id: str) -> bool:
    """Support looked at a weak result and keeps it: out of the review queue."""
    with session_factory() as session, session.begin():
        done = session.execute(places.update().where(places.c.place_id == place_id)
                               .values(needs_review=False, review_reason=None))
    return done.rowcount > 0
