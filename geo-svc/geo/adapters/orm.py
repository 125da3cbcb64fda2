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
)
