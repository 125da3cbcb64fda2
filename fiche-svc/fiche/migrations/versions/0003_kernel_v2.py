"""kernel tables v2: outbox order per subject, claims and parking; projection sequences; worker status

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from services.migrations import downgrade_kernel_tables_v2, upgrade_kernel_tables_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_kernel_tables_v2(op)


def downgrade() -> None:
    downgrade_kernel_tables_v2(op)
