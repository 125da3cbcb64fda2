"""mail queue: claimed sends, retries in the database, failing addresses, pace per domain

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW = "status IN ('queued', 'sending', 'committing', 'sent', 'failed', 'unconfirmed')"
_OLD = "status IN ('queued', 'sent', 'failed')"


def upgrade() -> None:
    # Before this revision a `queued` row was a send that failed, waiting for the bus to redeliver its event (the
    # inbox did not keep it). It has no message to send: remove it, so that the redelivery queues the mail anew
    # instead of finding its cause already there.
    op.execute("DELETE FROM mails WHERE status = 'queued'")
    # batch mode: SQLite rebuilds the table to change its check constraint.
    with op.batch_alter_table("mails", recreate="auto") as batch:
        batch.drop_constraint("ck_mails_status", type_="check")
        batch.alter_column("status", type_=sa.String(12), existing_type=sa.String(10), existing_nullable=False)
        batch.add_column(sa.Column("message_id", sa.String(255)))
        batch.add_column(sa.Column("domain", sa.String(255)))
        batch.add_column(sa.Column("payload", sa.LargeBinary))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("claim_token", sa.String(32)))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("smtp_code", sa.Integer))
        batch.create_check_constraint("ck_mails_status", _NEW)
    op.create_index("ix_mails_due", "mails", ["status", "next_attempt_at"])
    op.create_index("ix_mails_recipient", "mails", ["recipient"])
    op.create_index("ix_mails_created_at", "mails", ["created_at"])
    op.create_table(
        "failing_addresses",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "domain_pace",
        sa.Column("domain", sa.String(255), primary_key=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("domain_pace")
    op.drop_table("failing_addresses")
    op.drop_index("ix_mails_created_at", "mails")
    op.drop_index("ix_mails_recipient", "mails")
    op.drop_index("ix_mails_due", "mails")
    op.execute("DELETE FROM mails WHERE status NOT IN ('queued', 'sent', 'failed')")
    with op.batch_alter_table("mails", recreate="auto") as batch:
        batch.drop_constraint("ck_mails_status", type_="check")
        for column in ("smtp_code", "claimed_until", "claim_token", "next_attempt_at", "payload", "domain",
                       "message_id"):
            batch.drop_column(column)
        batch.alter_column("status", type_=sa.String(10), existing_type=sa.String(12), existing_nullable=False)
        batch.create_check_constraint("ck_mails_status", _OLD)
