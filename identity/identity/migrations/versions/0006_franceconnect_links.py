"""franceconnect_links: the FranceConnect identity (sub) linked to an account at activation

Revision ID: 0006
Revises: 0003 (the integrator chains it after 0004 and 0005)
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "franceconnect_links",
        sa.Column("sub", sa.String(255), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("franceconnect_links")
