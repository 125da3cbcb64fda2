"""Events produced by agrement-svc. The agrément's key is the assmat's 6-digit PMI number (`subject`)."""
from services.catalogue import EventSpec

_AGREMENT_FIELDS = (
    "pmi_number", "civility", "first_name", "last_name", "birth_name", "birth_date", "email", "phone",
    "address_line", "address_complement", "postcode", "commune_insee", "circonscription",
    "capacity_total", "capacity_under_3", "validity_start", "validity_end", "status",
    "publication_opposed", "place_type", "mam_id", "mam_name",
)

AGREMENT_GRANTED = EventSpec(
    "agrement.granted", 1, "agrement-svc", _AGREMENT_FIELDS,
    "A PMI number seen for the first time in an extract. Carries the birth date: only identity may keep it.",
    consumers=("fiche", "geo", "identity"))
AGREMENT_MODIFIED = EventSpec(
    "agrement.modified", 1, "agrement-svc", _AGREMENT_FIELDS + ("changed_fields",),
    "A known agrément whose business fields changed (status changes included); the whole new state is sent.",
    consumers=("fiche", "geo", "identity"))
AGREMENT_WITHDRAWN = EventSpec(
    "agrement.withdrawn", 1, "agrement-svc", _AGREMENT_FIELDS,
    "The agrément ended (withdrawn or suspended status): publication stops.",
    consumers=("fiche", "identity"))
