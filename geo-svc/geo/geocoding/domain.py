"""What a geocoder answers and the rules applied to it, without I/O.

A result keeps the Base Adresse Nationale's `type` (housenumber | street | locality | municipality) and `score`
(0..1): rural addresses (lieux-dits, "le bourg") often resolve only to the street or the commune, and support must
see those (DOMAIN.md, "Base Adresse Nationale in brief").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

TYPES = ("housenumber", "street", "locality", "municipality")
MUNICIPALITY_SCORE = 0.3  # a commune centre is far from the door: low confidence, but shown on the map
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class AddressQuery:
    key: str             # the caller's id for the row (a place id): batch answers come back by it
    address_line: str
    postcode: str
    commune_insee: str


@dataclass(frozen=True)
class GeocodeResult:
    latitude: float
    longitude: float
    type: str            # one of TYPES
    score: float
    label: str = ""
    citycode: str = ""
    source: str = ""     # "ban", "addresses", "communes": which adapter answered


class Geocoder(Protocol):
    name: str

    def geocode(self, query: AddressQuery) -> GeocodeResult | None: ...

    def geocode_many(self, queries: Sequence[AddressQuery]) -> dict[str, GeocodeResult | None]: ...

    def reverse(self, latitude: float, longitude: float) -> GeocodeResult | None: ...


def weakness(result: GeocodeResult | None, threshold: float, commune_insee: str,
             commune_level_only: bool = False) -> str | None:
    """Why a result must be reviewed by support (French, shown to them), or None when it is good enough.
    `commune_level_only`: the département geocodes offline at the commune only (GEO_GEOCODER=communes), where a
    commune result is all there is, not a weak one: queueing every place would bury the ones that matter."""
    if result is None:
        return "adresse introuvable"
    if result.citycode and commune_insee and result.citycode != commune_insee:
        return f"résultat dans une autre commune ({result.citycode})"
    if result.type in ("street", "locality"):
        return "localisée seulement à la voie ou au lieu-dit"
    if result.type == "municipality" and not commune_level_only:
        return "localisée seulement à la commune"
    if result.score < threshold and result.type != "municipality":
        return f"score faible ({result.score:.2f})"
    return None


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def public_pin(latitude: float, longitude: float, mode: str, blur_m: int) -> tuple[float, float, str]:
    """The pin the public fiche may show, by the département's choice (GEO_PUBLIC_PIN): `address` keeps the
    point; `blurred` snaps it to the centre of a grid cell of `blur_m` metres. A fixed grid rather than random
    noise: the same home always gives the same pin, so relocating it many times never lets anyone average the
    noise away, and neighbours in one cell share one pin."""
    if mode == "address":
        return round(latitude, 6), round(longitude, 6), "address"
    lat_step = blur_m / 111_320.0
    lat_cell = math.floor(latitude / lat_step)
    centre_lat = (lat_cell + 0.5) * lat_step
    lon_step = blur_m / (111_320.0 * max(math.cos(math.radians(centre_lat)), 0.01))
    centre_lon = (math.floor(longitude / lon_step) + 0.5) * lon_step
    return round(centre_lat, 6), round(centre_lon, 6), "blurred"
