from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fiche import bench
from fiche.adapters.orm import metadata


def test_the_migration_builds_what_the_tables_describe(projection):
    with projection.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_the_benchmark_runs_and_reports(capsys):
    figures = bench.run(300, searches=5)
    assert set(figures) == {"by_insee", "by_name", "busiest_every_page"}
    assert "p95" in capsys.readouterr().out
