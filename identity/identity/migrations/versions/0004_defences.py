"""audit_log: every attempt at activation, login, resend and captcha, and the spikes of failures

Revision ID: 0004
Revises: 0003

The throttling counters and captcha answers live in the kernel's expiring store (Redis, or a table the store
creates itself in this database): nothing to migrate for them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("account_id", sa.String(36)),
        sa.Column("identifier", sa.String(80)),
        sa.Column("ip", sa.String(64)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
