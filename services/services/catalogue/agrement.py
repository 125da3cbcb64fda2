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

# The structures extract (agrement-svc/STRUCTURES_FORMAT.md): MAMs and relais petite enfance. `subject` is the
# structure key, "<kind>:<id>" ("mam:MAM28-01", "rpe:RPE28-01"), so a MAM and an RPE never share one.
_STRUCTURE_FIELDS = (
    "structure_key", "kind", "structure_id", "name", "email", "phone", "address_line", "postcode", "commune_insee",
    "communes", "opening_hours", "status",
)

STRUCTURE_REGISTERED = EventSpec(
    "structure.registered", 1, "agrement-svc", _STRUCTURE_FIELDS,
    "A MAM or an RPE seen for the first time in a structures extract; identity creates its account.",
    consumers=("identity",))
STRUCTURE_MODIFIED = EventSpec(
    "structure.modified", 1, "agrement-svc", _STRUCTURE_FIELDS + ("changed_fields",),
    "A known structure whose fields changed (its e-mail included); the whole new state is sent.",
    consumers=("identity",))
STRUCTURE_CLOSED = EventSpec(
    "structure.closed", 1, "agrement-svc", _STRUCTURE_FIELDS,
    "The structure closed (status `closed` in the extract): its account is disabled.",
    consumers=("identity",))

# What assmats declare (agrement-svc/agrement/contracts, capacity): no child's name or birth date travels; the back
# office reads them from agrement-svc. `subject` is the PMI number.
CONTRACT_DECLARED = EventSpec(
    "contract.declared", 1, "agrement-svc",
    ("declaration_id", "contract_id", "pmi_number", "circonscription", "kind", "effective_date", "declared_at",
     "late", "over_capacity"),
    "An arrival, change or departure declared to the PMI (R421-39); `late`: more than 8 days after it. notify-svc "
    "mails the late ones to the circonscription.", consumers=("notify",))
CAPACITY_EXCEEDED = EventSpec(
    "capacity.exceeded", 1, "agrement-svc",
    ("pmi_number", "circonscription", "contract_id", "declaration_id", "exceedances"),
    "A declaration saved although the children present break L421-4: flagged to the circonscription (notify-svc "
    "mails it).", consumers=("notify",))
OVER_CAPACITY_DECLARED = EventSpec(
    "capacity.over_capacity_declared", 1, "agrement-svc",
    ("declaration_id", "pmi_number", "circonscription", "start_date", "end_date", "reason", "day_totals", "late"),
    "An exceptional over-capacity (L421-4 III) told to the PMI with each day's total of under-11s (D421-17); "
    "`late`: told more than 48 hours after its first day. notify-svc mails it to the circonscription.",
    consumers=("notify",))
# Reports of a change of situation (issue 7; CASF R421-41 for moving). `subject` is the report's id. Each step of
# the workflow is an event carrying what the mail to the assmat needs (her e-mail and name, the PMI's message).
_REPORT_FIELDS = (
    "report_id", "pmi_number", "circonscription", "kind", "status", "message", "email", "first_name", "last_name",
    "at",
)

REPORT_RECEIVED = EventSpec(
    "report.received", 1, "agrement-svc", _REPORT_FIELDS,
    "An assmat reported a change of situation; it is routed to her circonscription (status `received`); "
    "notify-svc mails her.", consumers=("notify",))
REPORT_STATUS_CHANGED = EventSpec(
    "report.status_changed", 1, "agrement-svc", _REPORT_FIELDS + ("previous_status",),
    "PMI staff moved a report on (`in_progress`, `processed`, or `refused` with a message for the assmat); "
    "notify-svc mails her.", consumers=("notify",))
