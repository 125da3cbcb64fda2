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


def create_kernel_tables(op) -> None:
    """Create the outbox and inbox tables in a service's first migration."""
    from services.db import kernel_tables

    metadata = sa.MetaData()
    outbox, inbox = kernel_tables(metadata)
    bind = op.get_bind()
    metadata.create_all(bind, tables=[outbox, inbox])
