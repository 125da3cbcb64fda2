"""agréments, import runs, outbox and inbox

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
        "agrements",
        sa.Column("pmi_number", sa.String(6), primary_key=True),
        sa.Column("civility", sa.String(10)),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("birth_name", sa.String(100)),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(30)),
        sa.Column("address_line", sa.String(300), nullable=False),
        sa.Column("address_complement", sa.String(300)),
        sa.Column("postcode", sa.String(5), nullable=False),
        sa.Column("commune_insee", sa.String(5), nullable=False),
        sa.Column("circonscription", sa.String(100), nullable=False),
        sa.Column("capacity_total", sa.Integer, nullable=False),
        sa.Column("capacity_under_3", sa.Integer, nullable=False),
        sa.Column("validity_start", sa.Date, nullable=False),
        sa.Column("validity_end", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("publication_opposed", sa.Boolean, nullable=False),
        sa.Column("place_type", sa.String(10), nullable=False),
        sa.Column("mam_id", sa.String(50)),
        sa.Column("mam_name", sa.String(200)),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agrements_commune_insee", "agrements", ["commune_insee"])
    op.create_index("ix_agrements_circonscription", "agrements", ["circonscription"])
    op.create_index("ix_agrements_status", "agrements", ["status"])
    op.create_index("ix_agrements_mam_id", "agrements", ["mam_id"])
    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
        sa.Column("granted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("modified", sa.Integer, nullable=False, server_default="0"),
        sa.Column("withdrawn", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejections", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("import_runs")
    op.drop_table("agrements")
    op.drop_table("inbox")
    op.drop_table("outbox")
