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
