"""Events produced by fiche-svc."""
from services.catalogue import EventSpec

FICHE_PUBLISHED = EventSpec("fiche.published", 1, "fiche-svc", ("fiche_id", "kind", "commune_insee"),
                            "A fiche became visible on the public site.")
FICHE_UPDATED = EventSpec("fiche.updated", 1, "fiche-svc", ("fiche_id", "kind", "commune_insee"),
                          "A visible fiche changed.")
FICHE_UNPUBLISHED = EventSpec("fiche.unpublished", 1, "fiche-svc", ("fiche_id", "kind", "reason"),
                              "A fiche left the public site (withdrawal, suspension, opposition).")
