"""The closed vocabularies of the profile, shared by its editing (fiche.profile), the search (fiche.search) and the
JSON the API answers. Codes are stable API values; labels are what the pages show.

Owner keys: whoever edits a profile is named by one string, so that one set of tables serves the three kinds of
fiche: "assmat:<pmi_number>", "mam:<structure_id>", "rpe:<structure_id>" (a structure's key, as in agrement-svc's
structures extract and identity's structure accounts).
"""
from __future__ import annotations

OWNER_KINDS = ("assmat", "mam", "rpe")

# Age bands of the places offered, in months from birth: [low, high). A child of `m` months fits a band when
# low <= m < high. The bands follow what parents ask and what the L421-4 rules count (under 3, under 11).
AGE_BANDS: dict[str, tuple[int, int, str]] = {
    "0_18m": (0, 18, "moins de 18 mois"),
    "18m_3y": (18, 36, "18 mois à 3 ans"),
    "3_6y": (36, 72, "3 à 6 ans"),
    "6_11y": (72, 132, "6 à 11 ans (périscolaire)"),
}

# Days of the week as bits of one integer: Monday = 1, Tuesday = 2 ... Sunday = 64 (ISO weekday d -> 1 << (d - 1)).
DAYS: dict[str, tuple[int, str]] = {
    "mon": (1, "lundi"), "tue": (2, "mardi"), "wed": (4, "mercredi"), "thu": (8, "jeudi"), "fri": (16, "vendredi"),
    "sat": (32, "samedi"), "sun": (64, "dimanche"),
}
ALL_DAYS = 127

# Atypical hours, as bits of one integer too (fiche.search filters on them).
ATYPICAL: dict[str, tuple[int, str]] = {
    "early": (1, "avant 7 h"), "late": (2, "après 20 h"), "night": (4, "la nuit"),
    "saturday": (8, "le samedi"), "sunday": (16, "le dimanche"),
}

HOUSING = {"flat": "appartement", "house": "maison"}

# Photos: what an upload may be, and what is kept of it.
PHOTO_TYPES = ("image/jpeg", "image/png")
PHOTOS_MAX = 8
PHOTO_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 1600  # the stored image fits in this square; a thumbnail too (PHOTO_THUMB_SIDE)
PHOTO_THUMB_SIDE = 320

# Freshness (décret 2021-1131): availability is to be confirmed before 1 June and 1 December.
LEGAL_DEADLINES = ((6, 1), (12, 1))  # (month, day)
REMINDER_DAYS_BEFORE = 30
STALE_AFTER_DAYS = 180
