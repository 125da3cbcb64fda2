"""fiches: validity_start and publishable, so that a fiche is public from its agrément's first day

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fiches", sa.Column("validity_start", sa.Date))
    op.add_column("fiches", sa.Column("publishable", sa.Boolean, nullable=False, server_default=sa.false()))
    # The start of the fiches projected so far is unknown (NULL: no constraint) until their next agrément event,
    # so none of them waits for its start: publishable = published, and the searches show what they showed.
    fiches = sa.table("fiches", sa.column("publishable", sa.Boolean), sa.column("published", sa.Boolean))
    op.execute(fiches.update().values(publishable=fiches.c.published))
    op.drop_index("ix_fiches_search", "fiches")
    op.create_index("ix_fiches_search", "fiches",
                    ["publishable", "commune_insee", "sort_name", "fiche_id", "validity_start", "validity_end"])
    op.drop_index("ix_fiches_postcode", "fiches")
    op.create_index("ix_fiches_postcode", "fiches", ["publishable", "postcode", "commune_insee"])
    op.create_index("ix_fiches_start", "fiches", ["publishable", "published", "validity_start"])


def downgrade() -> None:
    op.drop_index("ix_fiches_start", "fiches")
    op.drop_index("ix_fiches_postcode", "fiches")
    op.create_index("ix_fiches_postcode", "fiches", ["published", "postcode", "commune_insee"])
    op.drop_index("ix_fiches_search", "fiches")
    op.create_index("ix_fiches_search", "fiches",
                    ["published", "commune_insee", "sort_name", "fiche_id", "validity_end"])
    with op.batch_alter_table("fiches") as batch:
        batch.drop_column("publishable")
        batch.drop_column("validity_start")
