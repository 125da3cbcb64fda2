"""Locating a place of practice.

For now a place is located at the level of its commune (the mairie's point from the communes reference): the
Base Adresse Nationale geocoder comes in its own issue. A commune-level result is kept with its precision
("municipality") so that later, finer results replace it and weak ones can be sent to review.
"""
from __future__ import annotations

from dataclasses import dataclass

from services.text import fold

MUNICIPALITY_SCORE = 0.3  # a commune centre is far from the door: low confidence, but shown on the map


@dataclass(frozen=True)
class Address:
    address_line: str
    postcode: str
    commune_insee: str


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    precision: str
    score: float


def locate_in_commune(commune_latitude: float | None, commune_longitude: float | None) -> Location | None:
    if commune_latitude is None or commune_longitude is None:
        return None
    return Location(commune_latitude, commune_longitude, "municipality", MUNICIPALITY_SCORE)


def address_changed(previous: Address | None, current: Address) -> bool:
    return previous is None or (fold(previous.address_line), previous.postcode, previous.commune_insee) != (
        fold(current.address_line), current.postcode, current.commune_insee)
