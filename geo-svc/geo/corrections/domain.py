"""Reading the map link an assmat pastes to correct her pin, and checking the point it gives. Pure functions.

The link is the one the seed asks for: `https://adresse.data.gouv.fr/map?lng=1.47921&lat=48.4460&z=18`, centred on
the right spot. What people actually paste varies: parameters in any order, extra ones, the map's own `#zoom/lat/lng`
fragment, spaces or line breaks picked up when copying, http or https, a decimal comma. Anything else is refused
with a French message that says what to do.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from geo.geocoding.domain import distance_m

ACCEPTED_HOSTS = ("adresse.data.gouv.fr", "www.adresse.data.gouv.fr")
MAX_LINK_LENGTH = 2000
MIN_ZOOM = 15       # below, the map shows a whole neighbourhood: the centre says little about the door
MAX_ZOOM = 22
# Metropolitan France with Corsica, and the overseas départements (lat_min, lat_max, lon_min, lon_max).
FRANCE_BOXES = (
    (41.30, 51.15, -5.25, 9.65),      # metropolitan France, Corsica
    (15.80, 16.55, -61.85, -60.95),   # Guadeloupe
    (14.35, 14.90, -61.25, -60.75),   # Martinique
    (2.10, 5.80, -54.65, -51.55),     # Guyane
    (-21.40, -20.85, 55.20, 55.85),   # La Réunion
    (-13.05, -12.60, 44.95, 45.35),   # Mayotte
)


class InvalidLink(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class MapPoint:
    latitude: float
    longitude: float
    zoom: float | None


def _number(raw: str | None, what: str) -> float | None:
    if raw is None:
        return None
    text = raw.strip().replace(",", ".")
    # float() accepts "nan", "inf", "1e3" and "١"; a coordinate is plain decimal digits.
    if not re.fullmatch(r"[+-]?\d{1,3}(\.\d+)?", text) and not re.fullmatch(r"[+-]?\.\d+", text):
        raise InvalidLink("invalid_coordinates", f"La {what} du lien n'est pas un nombre : « {raw[:30]} ».")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidLink("invalid_coordinates", f"La {what} du lien n'est pas un nombre.")
    return value


def _zoom(raw: str | None) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip().replace(",", ".")
    if not re.fullmatch(r"\d{1,2}(\.\d+)?", text):
        raise InvalidLink("invalid_zoom", "Le niveau de zoom du lien n'est pas valide.")
    zoom = float(text)
    if zoom > MAX_ZOOM:
        raise InvalidLink("invalid_zoom", "Le niveau de zoom du lien n'est pas valide.")
    if zoom < MIN_ZOOM:
        raise InvalidLink("zoom_too_low", "La carte est trop éloignée : zoomez jusqu'à voir votre maison, "
                                          "centrez-la puis copiez de nouveau le lien.")
    return zoom


def parse_map_link(text: str) -> MapPoint:
    """The point a link from adresse.data.gouv.fr's map is centred on. Query parameters win over the fragment."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidLink("link_missing", "Collez le lien de la carte centrée sur votre lieu d'accueil.")
    if len(text) > MAX_LINK_LENGTH:
        raise InvalidLink("invalid_link", "Ce lien est trop long pour être un lien de carte.")
    compact = re.sub(r"\s+", "", text)   # spaces and line breaks picked up by a copy
    if not re.match(r"^https?://", compact, re.IGNORECASE):
        if compact.lower().startswith(ACCEPTED_HOSTS):
            compact = "https://" + compact
        else:
            raise InvalidLink("invalid_link", "Ce texte n'est pas un lien : il doit commencer par "
                                              "https://adresse.data.gouv.fr/")
    try:
        parts = urlsplit(compact)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        raise InvalidLink("invalid_link", "Ce lien n'est pas valide.") from None
    if host not in ACCEPTED_HOSTS:
        raise InvalidLink("other_site", "Seuls les liens de la carte de adresse.data.gouv.fr sont acceptés "
                                        f"(ce lien mène à {host or 'un site inconnu'}).")
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    lat_raw = query.get("lat")
    lon_raw = query.get("lng", query.get("lon"))
    zoom_raw = query.get("z", query.get("zoom"))
    fragment = re.fullmatch(r"([^/]+)/([^/]+)/([^/]+)(?:/.*)?", parts.fragment.lstrip("#").split("&")[0])
    if (lat_raw is None or lon_raw is None) and fragment:
        # The map's own address bar: #zoom/lat/lng
        zoom_raw, lat_raw, lon_raw = fragment.group(1), fragment.group(2), fragment.group(3)
    if lat_raw is None or lon_raw is None or not lat_raw.strip() or not lon_raw.strip():
        raise InvalidLink("coordinates_missing", "Ce lien ne contient pas de coordonnées : centrez la carte sur "
                                                 "votre lieu d'accueil puis copiez le lien de la page.")
    latitude, longitude = _number(lat_raw, "latitude"), _number(lon_raw, "longitude")
    if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise InvalidLink("invalid_coordinates", "Les coordonnées du lien sont hors des limites possibles.")
    return MapPoint(latitude, longitude, _zoom(zoom_raw))


def in_france(latitude: float, longitude: float) -> bool:
    return any(lat0 <= latitude <= lat1 and lon0 <= longitude <= lon1
               for lat0, lat1, lon0, lon1 in FRANCE_BOXES)


def check_proposal(point: MapPoint, commune_latitude: float | None, commune_longitude: float | None,
                   max_distance_m: float) -> None:
    """The point must be in France and near the place's commune (its mairie's point: a commune spans a few
    kilometres, `max_distance_m` leaves room for the largest rural ones)."""
    if not in_france(point.latitude, point.longitude):
        raise InvalidLink("outside_france", "Le point indiqué par ce lien est hors de France.")
    if commune_latitude is not None and commune_longitude is not None:
        far = distance_m(point.latitude, point.longitude, commune_latitude, commune_longitude)
        if far > max_distance_m:
            raise InvalidLink("far_from_commune", f"Le point indiqué est à {far / 1000:.0f} km de votre commune : "
                                                  "vérifiez que la carte est centrée sur votre lieu d'accueil.")
