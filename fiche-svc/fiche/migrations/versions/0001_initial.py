"""fiches, places, communes, outbox and inbox

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from services.migrations import create_kernel_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FOLDED = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def upgrade() -> None:
    create_kernel_tables(op)
    op.create_table(
        "fiches",
        sa.Column("fiche_id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False, unique=True),
        sa.Column("place_id", sa.String(64), nullable=False),
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
        sa.Column("validity_end", sa.Date),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("publication_opposed", sa.Boolean, nullable=False),
        sa.Column("in_mam", sa.Boolean, nullable=False),
        sa.Column("mam_name", sa.String(200)),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("agrement_occurred_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_fiches_search", "fiches",
                    ["published", "commune_insee", "sort_name", "fiche_id", "validity_end"])
    op.create_index("ix_fiches_postcode", "fiches", ["published", "postcode", "commune_insee"])
    op.create_index("ix_fiches_lapse", "fiches", ["published", "validity_end"])
    op.create_index("ix_fiches_place_id", "fiches", ["place_id"])
    op.create_table(
        "places",
        sa.Column("place_id", sa.String(64), primary_key=True),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "communes",
        sa.Column("insee_code", sa.String(5), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_name", FOLDED, nullable=False),
        sa.Column("postcodes", sa.String(200), nullable=False),
    )
    op.create_index("ix_communes_search_name", "communes", ["search_name"])


def downgrade() -> None:
    op.drop_table("communes")
    op.drop_table("places")
    op.drop_table("fiches")
    op.drop_table("inbox")
    op.drop_table("outbox")
