"""communes reference, places, outbox and inbox

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from services.migrations import create_kernel_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kernel_tables(op)
    op.create_table(
        "communes",
        sa.Column("insee_code", sa.String(5), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_name", sa.String(200), nullable=False),
        sa.Column("departement_code", sa.String(3), nullable=False),
        sa.Column("postcodes", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("population", sa.Integer),
    )
    op.create_index("ix_communes_search_name", "communes", ["search_name"])
    op.create_index("ix_communes_departement_code", "communes", ["departement_code"])
    op.create_table(
        "places",
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


def downgrade() -> None:
    op.drop_table("places")
    op.drop_table("communes")
    op.drop_table("inbox")
    op.drop_table("outbox")
