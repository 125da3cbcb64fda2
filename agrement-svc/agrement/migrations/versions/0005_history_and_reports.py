"""agréments' publication choice without contact details, history of staff decisions, reports of a change of situation and their attachments (issue 7)

Revision ID: 0005
Revises: 0003 (the contracts' 0004 also revises 0003: the integrator chains them)
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agrements") as batch:
        batch.add_column(sa.Column("publication_contact_hidden", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "agrement_history",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_table(
        "situation_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pmi_number", sa.String(6), nullable=False, index=True),
        sa.Column("circonscription", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("staff_message", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "report_attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("report_id", sa.String(32), sa.ForeignKey("situation_reports.id"), nullable=False, index=True),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(50), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_attachments")
    op.drop_table("situation_reports")
    op.drop_table("agrement_history")
    with op.batch_alter_table("agrements") as batch:
        batch.drop_column("publication_contact_hidden")
