"""fiche-svc's tables: the fiches projection, the places it was told about, and the names of their communes.

Only what the public may see is kept (plus the keys and dates needed to apply events in order): never the birth
date, the home street address or the circonscription that agrément events also carry.
"""
import sqlalchemy as sa

from services.db import kernel_tables

metadata = sa.MetaData()
kernel_tables(metadata)

# Folded names are compared by prefix; PostgreSQL's btree only serves byte-wise ranges under the "C" collation
# (a locale collation ignores spaces at the first level, so "st p" ... "st q" would not be a prefix range).
FOLDED = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")

fiches = sa.Table(
    "fiches", metadata,
    sa.Column("fiche_id", sa.String(32), primary_key=True),  # random: the PMI number is half an activation secret
    sa.Column("pmi_number", sa.String(6), nullable=False, unique=True),  # the agrément's key; never leaves here
    sa.Column("place_id", sa.String(64), nullable=False),  # geo-svc's key of the place of practice
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("civility", sa.String(10)),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("sort_name", FOLDED, nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("phone", sa.String(30)),
    sa.Column("postcode", sa.String(5), nullable=False),
    sa.Column("commune_insee", sa.String(5), nullable=False),
    sa.Column("capacity_total", sa.Integer, nullable=False),
    sa.Column("capacity_under_3", sa.Integer, nullable=False),
    sa.Column("validity_start", sa.Date),  # NULL for fiches projected before it was kept (migration 0002)
    sa.Column("validity_end", sa.Date),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("publication_opposed", sa.Boolean, nullable=False),
    sa.Column("in_mam", sa.Boolean, nullable=False),
    sa.Column("mam_name", sa.String(200)),
    sa.Column("mam_id", sa.String(32)),  # the MAM's structure_id when she works in one (its fiche lists her)
    # What searches filter on: public on the day of the last event or sweep, or from a later day (the rule without
    # the start date); the validity dates are compared with the day of the search
    # (fiche.projection.queries.visible), so a fiche shows from its first day and hides after its last, whenever
    # the worker's sweeps run.
    sa.Column("publishable", sa.Boolean, nullable=False, server_default=sa.false()),
    # What the other services were last told (fiche.published / fiche.unpublished); the worker's sweeps bring it
    # in line with the day's searches.
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Column("agrement_occurred_at", sa.DateTime, nullable=False),  # UTC, of the newest agrément event applied
    sa.Index("ix_fiches_search", "publishable", "commune_insee", "sort_name", "fiche_id", "validity_start",
             "validity_end"),
    sa.Index("ix_fiches_postcode", "publishable", "postcode", "commune_insee"),
    sa.Index("ix_fiches_lapse", "published", "validity_end"),
    sa.Index("ix_fiches_start", "publishable", "published", "validity_start"),
    sa.Index("ix_fiches_place_id", "place_id"),
)

places = sa.Table(
    "places", metadata,
    sa.Column("place_id", sa.String(64), primary_key=True),
    sa.Column("commune_insee", sa.String(5), nullable=False),
    sa.Column("latitude", sa.Float),  # commune-level only, see fiche.projection.domain.publication.public_location
    sa.Column("longitude", sa.Float),
    sa.Column("occurred_at", sa.DateTime, nullable=False),  # UTC, of the newest place.located applied
)

communes = sa.Table(
    "communes", metadata,
    sa.Column("insee_code", sa.String(5), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_name", FOLDED, nullable=False, index=True),
    sa.Column("postcodes", sa.String(200), nullable=False),  # space separated, to tell homonyms apart
)


# --- what owners edit (fiche.profile, issue 8) -------------------------------------------------------------------
# One set of tables for the three kinds of fiche, keyed by the owner key ("assmat:<pmi_number>", "mam:<id>",
# "rpe:<id>": fiche.profile.vocabulary). A profile row exists from the owner's first edit; a fiche without one shows
# only what the agrément says.
OWNER_KEY = sa.String(80)

profiles = sa.Table(
    "profiles", metadata,
    sa.Column("owner_key", OWNER_KEY, primary_key=True),
    sa.Column("presentation", sa.Text, nullable=False, server_default=""),  # plain text, sanitised on the way in
    sa.Column("activities", sa.Text, nullable=False, server_default=""),
    # Cadre d'accueil: {"housing": "flat"|"house"|None, "floor": int|None, "lift": bool|None, "garden": bool|None,
    # "pets": str, "smoke_free": bool|None, "equipment": [str], "accessibility": str}
    sa.Column("setting", sa.JSON),
    # Planning: {"usual": [{"days": <DAYS bits>, "start": "HH:MM", "end": "HH:MM"}], "atypical": <ATYPICAL bits>,
    # "periscolaire": bool, "school_holidays": bool, "notes": str}
    sa.Column("planning", sa.JSON),
    sa.Column("show_email", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("show_phone", sa.Boolean, nullable=False, server_default=sa.true()),
    # "No place available" said explicitly (an empty availability list alone means "not filled in").
    sa.Column("no_place_available", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("availability_confirmed_at", sa.DateTime),  # UTC: the owner last saved or confirmed her availability
    sa.Column("updated_at", sa.DateTime, nullable=False),  # UTC: the owner's last edit of anything
    sa.Column("reminded_for", sa.Date),  # the deadline (or declared date) the last availability reminder was for
    sa.Column("stale_flagged_at", sa.DateTime),  # UTC: when the 180-day flag was last raised (None once edited)
)

availabilities = sa.Table(
    "availabilities", metadata,
    sa.Column("availability_id", sa.String(32), primary_key=True),
    sa.Column("owner_key", OWNER_KEY, nullable=False, index=True),
    sa.Column("age_band", sa.String(10), nullable=False),  # a code of vocabulary.AGE_BANDS
    sa.Column("places", sa.Integer, nullable=False),
    sa.Column("available_from", sa.Date, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),  # vocabulary.DAYS bits
    sa.Column("start_minute", sa.Integer, nullable=False),  # minutes from midnight, 0..1440
    sa.Column("end_minute", sa.Integer, nullable=False),
)

photos = sa.Table(
    "photos", metadata,
    sa.Column("photo_id", sa.String(32), primary_key=True),  # random: the public address of the image
    sa.Column("owner_key", OWNER_KEY, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("alt_text", sa.String(250), nullable=False),
    sa.Column("content_type", sa.String(20), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # re-encoded: no metadata (EXIF, GPS) survives
    sa.Column("thumbnail", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_photos_owner", "owner_key", "position"),
)
