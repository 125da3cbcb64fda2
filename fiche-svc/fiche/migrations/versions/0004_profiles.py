"""profiles, availabilities, photos: what owners edit (issue 8); fiches.mam_id

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OWNER_KEY = sa.String(80)


def upgrade() -> None:
    op.add_column("fiches", sa.Column("mam_id", sa.String(32)))
    op.create_table(
        "profiles",
        sa.Column("owner_key", OWNER_KEY, primary_key=True),
        sa.Column("presentation", sa.Text, nullable=False, server_default=""),
        sa.Column("activities", sa.Text, nullable=False, server_default=""),
        sa.Column("setting", sa.JSON),
        sa.Column("planning", sa.JSON),
        sa.Column("show_email", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("show_phone", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("no_place_available", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("availability_confirmed_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("reminded_for", sa.Date),
        sa.Column("stale_flagged_at", sa.DateTime),
    )
    op.create_table(
        "availabilities",
        sa.Column("availability_id", sa.String(32), primary_key=True),
        sa.Column("owner_key", OWNER_KEY, nullable=False),
        sa.Column("age_band", sa.String(10), nullable=False),
        sa.Column("places", sa.Integer, nullable=False),
        sa.Column("available_from", sa.Date, nullable=False),
        sa.Column("days", sa.Integer, nullable=False),
        sa.Column("start_minute", sa.Integer, nullable=False),
        sa.Column("end_minute", sa.Integer, nullable=False),
    )
    op.create_index("ix_availabilities_owner_key", "availabilities", ["owner_key"])
    op.create_table(
        "photos",
        sa.Column("photo_id", sa.String(32), primary_key=True),
        sa.Column("owner_key", OWNER_KEY, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("alt_text", sa.String(250), nullable=False),
        sa.Column("content_type", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_photos_owner", "photos", ["owner_key", "position"])


def downgrade() -> None:
    op.drop_table("photos")
    op.drop_table("availabilities")
    op.drop_table("profiles")
    with op.batch_alter_table("fiches") as batch:
        batch.drop_column("mam_id")
