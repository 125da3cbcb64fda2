"""audit_log: every attempt at activation, login, resend and captcha, and the spikes of failures

Revision ID: 0004
Revises: 0003

kernel_expiring_keys: the kernel's expiring store (throttling counters and locks, captcha answers) when it lives in
this database. The store creates it on first use as well, so it is created here only if missing.
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
    if not sa.inspect(op.get_bind()).has_table("kernel_expiring_keys"):
        op.create_table(
            "kernel_expiring_keys",
            sa.Column("key", sa.String(200), primary_key=True),
            sa.Column("value", sa.Text),
            sa.Column("counter", sa.BigInteger, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        op.create_index("ix_kernel_expiring_keys_expires_at", "kernel_expiring_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_kernel_expiring_keys_expires_at", "kernel_expiring_keys")
    op.drop_table("kernel_expiring_keys")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
