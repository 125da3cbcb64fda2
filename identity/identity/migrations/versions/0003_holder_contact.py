"""agrement_holders: birth name (FranceConnect's check), the PMI's e-mail (told of an activation), validity dates

Revision ID: 0003
Revises: 0002

Filled by the next agrément event of each holder; until then they are empty, which the checks treat as unknown.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agrement_holders") as batch:
        batch.add_column(sa.Column("birth_name", sa.String(100)))
        batch.add_column(sa.Column("email", sa.String(254)))
        batch.add_column(sa.Column("validity_start", sa.Date))
        batch.add_column(sa.Column("validity_end", sa.Date))


def downgrade() -> None:
    with op.batch_alter_table("agrement_holders") as batch:
        for column in ("validity_end", "validity_start", "email", "birth_name"):
            batch.drop_column(column)
