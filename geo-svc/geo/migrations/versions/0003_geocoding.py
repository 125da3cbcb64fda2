"""geocoding results kept on places, the BAN address table, correction requests, mairie contacts

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PLACE_COLUMNS = (("label", sa.String(300)), ("source", sa.String(20)), ("review_reason", sa.String(200)),
                  ("public_latitude", sa.Float), ("public_longitude", sa.Float),
                  ("corrected_latitude", sa.Float), ("corrected_longitude", sa.Float),
                  ("corrected_address", sa.String(320)), ("pmi_number", sa.String(6)))


_COMMUNE_COLUMNS = (("mairie_email", sa.String(200)), ("mairie_phone", sa.String(40)),
                    ("mairie_address", sa.String(400)))


def upgrade() -> None:
    with op.batch_alter_table("communes") as batch:
        for name, kind in _COMMUNE_COLUMNS:
            batch.add_column(sa.Column(name, kind))
    with op.batch_alter_table("places") as batch:
        for name, kind in _PLACE_COLUMNS:
            batch.add_column(sa.Column(name, kind))
    op.create_table(
        "addresses",
        sa.Column("address_id", sa.String(60), primary_key=True),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("commune_name", sa.String(200), nullable=False),
        sa.Column("postcode", sa.String(5), nullable=False),
        sa.Column("street_name", sa.String(200), nullable=False),
        sa.Column("street_key", sa.String(200), nullable=False),
        sa.Column("number", sa.String(6), nullable=False),
        sa.Column("suffix", sa.String(10), nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
    )
    op.create_index("ix_addresses_street", "addresses", ["commune_insee", "street_key"])
    op.create_table(
        "corrections",
        sa.Column("correction_id", sa.String(36), primary_key=True),
        sa.Column("place_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("link", sa.String(2000), nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("zoom", sa.Float),
        sa.Column("comment", sa.String(500)),
        sa.Column("address_key", sa.String(320)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("previous_latitude", sa.Float),
        sa.Column("previous_longitude", sa.Float),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decision_reason", sa.String(500)),
    )
    op.create_index("ix_corrections_place_id", "corrections", ["place_id"])
    op.create_index("ix_corrections_status", "corrections", ["status"])


def downgrade() -> None:
    op.drop_table("corrections")
    op.drop_table("addresses")
    with op.batch_alter_table("places") as batch:
        for name, _ in reversed(_PLACE_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("communes") as batch:
        for name, _ in reversed(_COMMUNE_COLUMNS):
            batch.drop_column(name)
