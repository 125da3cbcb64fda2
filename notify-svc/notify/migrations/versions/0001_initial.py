"""mails delivery log, outbox and inbox

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
        "mails",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("cause_event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="ck_mails_status"),
    )


def downgrade() -> None:
    op.drop_table("mails")
    op.drop_table("inbox")
    op.drop_table("outbox")
