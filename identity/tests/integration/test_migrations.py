"""The migrations build exactly the tables the code describes."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from identity.adapters.orm import metadata
from services.db import make_engine, upgrade


def test_migrations_match_the_tables_of_the_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'identity.sqlite3'}"
    upgrade(url, "identity:migrations")
    engine = make_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata) == []
    engine.dispose()
