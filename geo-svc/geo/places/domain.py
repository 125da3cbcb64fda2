"""Locating a place of practice: which address changed, and the key an accepted correction is kept under.

The geocoding itself is behind `geo.geocoding.domain.Geocoder`; the rules on its result (weak or not, the public
pin) are in `geo.geocoding.domain`.
"""
from __future__ import annotations

from dataclasses import dataclass

from geo.geocoding.domain import MUNICIPALITY_SCORE  # noqa: F401  (kept where earlier code imported it)
from services.text import fold


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


def address_key(address: Address) -> str:
    """The address as a correction is remembered: accepted coordinates win over later geocoding of this address,
    and only this one (she moves: the new address is geocoded afresh)."""
    return f"{fold(address.address_line)}|{address.postcode}|{address.commune_insee}"[:320]


def address_changed(previous: Address | None, current: Address) -> bool:
    return previous is None or address_key(previous) != address_key(current)
