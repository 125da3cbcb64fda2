"""address book: who to write to, from identity's events

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_book",
        sa.Column("account_id", sa.String(36), primary_key=True),
        sa.Column("pmi_number", sa.String(32)),
        sa.Column("email", sa.String(320)),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_address_book_pmi_number", "address_book", ["pmi_number"])


def downgrade() -> None:
    op.drop_index("ix_address_book_pmi_number", table_name="address_book")
    op.drop_table("address_book")
