"""What every service's Alembic env.py and first migration share.

A service's `migrations/env.py` is just `from services.migrations import run_env; run_env(metadata)`.
"""
from __future__ import annotations

import sqlalchemy as sa


def run_env(target_metadata: sa.MetaData) -> None:
    from alembic import context

    from services.db import migration_context_engine

    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with migration_context_engine(url) as engine, engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


def _kernel_tables_v1(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The outbox and inbox as every service's migration 0001 created them. Frozen: a migration must build the same
    tables whenever it runs, whatever services.db.kernel_tables describes today."""
    outbox = sa.Table(
        "outbox", metadata,
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index("ix_outbox_unsent", "sent_at", "position"),
    )
    inbox = sa.Table(
        "inbox", metadata,
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    return outbox, inbox


def create_kernel_tables(op) -> None:
    """Create the outbox and inbox tables (version 1) in a service's first migration."""
    metadata = sa.MetaData()
    outbox, inbox = _kernel_tables_v1(metadata)
    bind = op.get_bind()
    metadata.create_all(bind, tables=[outbox, inbox])


_PENDING_V2 = "sent_at IS NULL AND parked_at IS NULL"
_OUTBOX_COLUMNS_V2 = ("subject", "claimed_until", "claimed_by", "parked_at")


def upgrade_kernel_tables_v2(op) -> None:
    """Version 2 of the kernel's tables, for each service's migration 0002 (frozen like version 1): the outbox's
    order per subject, claims and parking (services.outbox), `projection_sequences` (services.ordering) and
    `worker_status` (services.health)."""
    op.add_column("outbox", sa.Column("subject", sa.Text))
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True)))
    op.add_column("outbox", sa.Column("claimed_by", sa.String(200)))
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True)))
    _fill_subjects_of_unsent_rows(op.get_bind())
    where = {"postgresql_where": sa.text(_PENDING_V2), "sqlite_where": sa.text(_PENDING_V2)}
    op.create_index("ix_outbox_pending", "outbox", ["position"], **where)
    op.create_index("ix_outbox_pending_subject", "outbox", ["subject", "position"], **where)
    op.create_table(
        "projection_sequences",
        sa.Column("stream", sa.String(100), primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "worker_status",
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("consumer_state", sa.String(20), nullable=False),
        sa.Column("consumer_detail", sa.Text),
        sa.Column("relay_state", sa.String(20), nullable=False),
        sa.Column("relay_detail", sa.Text),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade_kernel_tables_v2(op) -> None:
    op.drop_table("worker_status")
    op.drop_table("projection_sequences")
    op.drop_index("ix_outbox_pending_subject", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        for column in reversed(_OUTBOX_COLUMNS_V2):
            batch.drop_column(column)


def _fill_subjects_of_unsent_rows(bind, chunk: int = 1000) -> None:
    """Rows waiting when the service is upgraded get their subject from their payload, so the relay keeps their
    order too. Only unsent rows matter (sent ones are pruned); a payload that is not an event's keeps NULL, which
    the relay orders with nothing."""
    import json

    outbox = sa.table("outbox", sa.column("position", sa.Integer), sa.column("payload", sa.Text),
                      sa.column("sent_at", sa.DateTime), sa.column("subject", sa.Text))
    last = None
    while True:
        query = sa.select(outbox.c.position, outbox.c.payload).where(outbox.c.sent_at.is_(None))
        if last is not None:
            query = query.where(outbox.c.position > last)
        rows = bind.execute(query.order_by(outbox.c.position).limit(chunk)).all()
        if not rows:
            return
        updates = []
        for position, payload in rows:
            try:
                subject = json.loads(payload).get("subject")
            except (ValueError, TypeError, AttributeError):
                subject = None
            if subject is not None:
                updates.append({"p": position, "s": str(subject)})
        if updates:
            bind.execute(outbox.update().where(outbox.c.position == sa.bindparam("p"))
                         .values(subject=sa.bindparam("s")), updates)
        last = rows[-1][0]
