"""Events produced by fiche-svc."""
from services.catalogue import EventSpec

FICHE_PUBLISHED = EventSpec("fiche.published", 1, "fiche-svc", ("fiche_id", "kind", "commune_insee"),
                            "A fiche became visible on the public site.")
FICHE_UPDATED = EventSpec("fiche.updated", 1, "fiche-svc", ("fiche_id", "kind", "commune_insee"),
                          "A visible fiche changed.")
FICHE_UNPUBLISHED = EventSpec("fiche.unpublished", 1, "fiche-svc", ("fiche_id", "kind", "reason"),
                              "A fiche left the public site (withdrawal, suspension, opposition).")

# Freshness of what owners publish (issue 8; décret 2021-1131: availability kept up to date before 1 June and
# 1 December). `subject` is the owner key ("assmat:<pmi_number>", "mam:<id>", "rpe:<id>"); `pmi_number` is null for
# a structure, `email` is null for an assmat (notify-svc's address book knows hers; fiche-svc may not).
FICHE_AVAILABILITY_REMINDER_DUE = EventSpec(
    "fiche.availability_reminder_due", 1, "fiche-svc",
    ("owner_key", "kind", "fiche_id", "pmi_number", "email", "reason", "due_date", "confirmed_at"),
    "Remind the owner to confirm her availability: `reason` legal_deadline (30 days before 1 June or 1 December, "
    "`due_date` that date) or declared_date (30 days before a place she declared free from `due_date`). Sent once "
    "per owner and due date.")
FICHE_STALE_FLAGGED = EventSpec(
    "fiche.stale_flagged", 1, "fiche-svc",
    ("owner_key", "kind", "fiche_id", "pmi_number", "email", "updated_at"),
    "The owner has not touched her fiche for 180 days (`updated_at`: her last edit, or null if never).")
FICHE_AVAILABILITY_FRESHNESS_CHANGED = EventSpec(
    "fiche.availability_freshness_changed", 1, "fiche-svc",
    ("owner_key", "kind", "fiche_id", "pmi_number", "stale", "confirmed_at", "deadline"),
    "The availability became stale (not confirmed since the last legal deadline, `deadline`) or fresh again; the "
    "back office lists the stale ones by circonscription.")
