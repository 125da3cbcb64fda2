"""Read side of corrections and of the review queue."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from geo.adapters.orm import communes, corrections, places
from geo.geocoding.domain import distance_m


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _correction_json(row) -> dict:
    return {"correction_id": row["correction_id"], "place_id": row["place_id"], "account_id": row["account_id"],
            "link": row["link"], "latitude": row["latitude"], "longitude": row["longitude"], "zoom": row["zoom"],
            "comment": row["comment"], "status": row["status"], "previous_latitude": row["previous_latitude"],
            "previous_longitude": row["previous_longitude"], "requested_at": _iso(row["requested_at"]),
            "decided_at": _iso(row["decided_at"]), "decision_reason": row["decision_reason"]}


def _place_json(session: Session, place_id: str) -> dict | None:
    row = session.execute(sa.select(places, communes.c.name.label("commune_name"),
                                    communes.c.latitude.label("commune_latitude"),
                                    communes.c.longitude.label("commune_longitude"))
                          .select_from(places.outerjoin(communes, communes.c.insee_code == places.c.commune_insee))
                          .where(places.c.place_id == place_id)).mappings().first()
    if row is None:
        return None
    return {"place_id": row["place_id"], "address_line": row["address_line"], "postcode": row["postcode"],
            "commune_insee": row["commune_insee"], "commune_name": row["commune_name"],
            "latitude": row["latitude"], "longitude": row["longitude"], "precision": row["precision"],
            "score": row["score"], "label": row["label"], "source": row["source"],
            "needs_review": row["needs_review"], "review_reason": row["review_reason"],
            "public_latitude": row["public_latitude"], "public_longitude": row["public_longitude"],
            "corrected": row["corrected_address"] is not None,
            "commune_latitude": row["commune_latitude"], "commune_longitude": row["commune_longitude"]}


def own_geolocation(session: Session, place_id: str) -> dict | None:
    place = _place_json(session, place_id)
    if place is None:
        return None
    rows = session.execute(sa.select(corrections).where(corrections.c.place_id == place_id)
                           .order_by(corrections.c.requested_at.desc()).limit(10)).mappings()
    return {"place": place, "corrections": [_correction_json(row) for row in rows]}


def list_corrections(session: Session, status: str, limit: int = 100) -> list[dict]:
    rows = session.execute(sa.select(corrections).where(corrections.c.status == status)
                           .order_by(corrections.c.requested_at).limit(limit)).mappings()
    found = []
    for row in rows:
        item = _correction_json(row)
        place = _place_json(session, row["place_id"])
        item["place"] = place
        found.append(item)
    return found


def get_correction(session: Session, correction_id: str) -> dict | None:
    row = session.execute(sa.select(corrections).where(corrections.c.correction_id == correction_id)
                          ).mappings().first()
    if row is None:
        return None
    item = _correction_json(row)
    place = _place_json(session, row["place_id"])
    item["place"] = place
    if place and place["latitude"] is not None:
        item["distance_from_current_m"] = round(distance_m(row["latitude"], row["longitude"], place["latitude"],
                                                           place["longitude"]))
    if place and place["commune_latitude"] is not None:
        item["distance_from_commune_m"] = round(distance_m(row["latitude"], row["longitude"],
                                                           place["commune_latitude"], place["commune_longitude"]))
    return item


def review_queue(session: Session, limit: int = 100) -> list[dict]:
    ids = session.execute(sa.select(places.c.place_id).where(places.c.needs_review.is_(True))
                          .order_by(places.c.located_at).limit(limit)).scalars().all()
    return [_place_json(session, place_id) for place_id in ids]
