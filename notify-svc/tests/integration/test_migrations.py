"""The migrations build exactly the tables the code describes."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from notify.adapters.orm import metadata
from services.db import make_engine, upgrade


def test_migrations_match_the_metadata(tmp_path):
    url = f"sqlite:///{tmp_path / 'notify.sqlite3'}"
    upgrade(url, "notify:migrations")
    engine = make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert differences == []
    assert {"mails", "outbox", "inbox"} <= tables
