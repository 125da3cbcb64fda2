"""notify-svc's tables: the delivery log of every mail (never its body: it may carry a single-use link)."""
import sqlalchemy as sa

from services.db import kernel_tables

metadata = sa.MetaData()
kernel_tables(metadata)

mails = sa.Table(
    "mails", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("cause_event_id", sa.String(36), nullable=False, unique=True),  # one mail per event, whoever sends it
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="ck_mails_status"),
)
