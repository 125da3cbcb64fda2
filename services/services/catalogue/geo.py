"""Events produced by geo-svc."""
from services.catalogue import EventSpec

PLACE_LOCATED = EventSpec(
    "place.located", 1, "geo-svc",
    ("place_id", "commune_insee", "commune_name", "postcode", "latitude", "longitude", "precision", "score"),
    "Where a place of practice is (subject = the PMI number or the MAM id). precision: housenumber | street | "
    "locality | municipality; score in 0..1.",
    consumers=("fiche",))
PLACE_NEEDS_REVIEW = EventSpec(
    "place.needs_review", 1, "geo-svc", ("place_id", "commune_insee", "reason"),
    "The place could not be located precisely enough; support must look at it.")
