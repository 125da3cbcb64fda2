"""accounts of every kind: MAM and RPE accounts from the structures extract, PMI staff (roles, circonscriptions,
TOTP), forgotten-password links

Revision ID: 0005
Revises: 0003

The integrator chains this after 0004 (part A's); it touches no table 0004 touches.
"""
import sqlalchemy as sa
from alembic import op


# Timestamps as in 0001: timezone-aware columns (the code reads them back as UTC).
UtcDateTime = sa.DateTime(timezone=True)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("roles", sa.Text))
        batch.add_column(sa.Column("circonscriptions", sa.Text))
        batch.add_column(sa.Column("totp_secret", sa.String(64)))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger))
        batch.add_column(sa.Column("structure_key", sa.String(80)))
        batch.add_column(sa.Column("password_changed_at", UtcDateTime))
        batch.create_unique_constraint("accounts_structure_key_key", ["structure_key"])
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("used_at", UtcDateTime),
    )
    op.create_index("ix_password_resets_account_id", "password_resets", ["account_id"])
    op.create_table(
        "structures",
        sa.Column("structure_key", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="SET NULL")),
        sa.Column("conflict", sa.String(40)),
        sa.Column("source_occurred_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("structures")
    op.drop_index("ix_password_resets_account_id", "password_resets")
    op.drop_table("password_resets")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("accounts_structure_key_key", type_="unique")
        for column in ("password_changed_at", "structure_key", "totp_last_step", "totp_secret", "circonscriptions",
                       "roles"):
            batch.drop_column(column)
