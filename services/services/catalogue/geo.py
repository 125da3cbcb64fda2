"""Events produced by geo-svc."""
from services.catalogue import EventSpec

PLACE_LOCATED = EventSpec(
    "place.located", 1, "geo-svc",
    ("place_id", "commune_insee", "commune_name", "postcode", "latitude", "longitude", "precision", "score"),
    "Where a place of practice is (subject = the PMI number or the MAM id). precision: housenumber | street | "
    "locality | municipality; score in 0..1. Optional, since issue 9 (additive, v1 kept): `label` (the geocoder's "
    "address), `source` (ban | addresses | communes | correction), `public_latitude`, `public_longitude`, "
    "`public_precision` (address | blurred | municipality: the pin the public fiche may show, by GEO_PUBLIC_PIN), "
    "`corrected` (true when support accepted a correction for this address), `needs_review`.",
    consumers=("fiche",))
PLACE_NEEDS_REVIEW = EventSpec(
    "place.needs_review", 1, "geo-svc", ("place_id", "commune_insee", "reason"),
    "The place could not be located precisely enough (no result, score under GEO_REVIEW_THRESHOLD, only street, "
    "lieu-dit or commune); support must look at it. Optional: `precision`, `score`, `label`.")
CORRECTION_REQUESTED = EventSpec(
    "correction.requested", 1, "geo-svc",
    ("correction_id", "place_id", "account_id", "commune_insee", "latitude", "longitude", "requested_at"),
    "An assmat asked to move her pin to the point of a map link (subject = place id); support reviews it. "
    "`account_id` is the identity account that asked (for a receipt mail).")
CORRECTION_DECIDED = EventSpec(
    "correction.decided", 1, "geo-svc",
    ("correction_id", "place_id", "account_id", "commune_insee", "commune_name", "decision", "reason",
     "latitude", "longitude", "requested_at", "decided_at"),
    "Support accepted or refused a correction (subject = place id); decision: accepted | refused; reason: "
    "support's words (may be empty on acceptance). A mail to `account_id` tells her; on acceptance a "
    "place.located follows with the new pin.",
    consumers=("notify",))
