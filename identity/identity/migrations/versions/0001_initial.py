"""agrément holders, accounts, e-mail confirmations, refresh tokens, signing keys, outbox and inbox

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

from services.migrations import create_kernel_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_kernel_tables(op)
    op.create_table(
        "agrement_holders",
        sa.Column("pmi_number", sa.String(6), primary_key=True),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("agrement_status", sa.String(20), nullable=False),
        _timestamp("source_occurred_at"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("pmi_number", sa.String(6), unique=True),
        sa.Column("email", sa.String(254), unique=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _timestamp("created_at"),
        _timestamp("activated_at", nullable=True),
    )
    op.create_table(
        "email_confirmations",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
    )
    op.create_index("ix_email_confirmations_account_id", "email_confirmations", ["account_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"])
    op.create_index("ix_refresh_tokens_account_id", "refresh_tokens", ["account_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_jwk", sa.Text, nullable=False),
        _timestamp("created_at"),
    )


def downgrade() -> None:
    for table in ("signing_keys", "refresh_tokens", "email_confirmations", "accounts", "agrement_holders", "inbox",
                  "outbox"):
        op.drop_table(table)
