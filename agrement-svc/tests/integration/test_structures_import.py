"""Applying a structures extract: rows and events together, the same file twice changes nothing, a closing and a
change of address become events (SQLite and PostgreSQL); the command's exit codes."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from agrement.adapters.orm import metadata, structures
from agrement.settings import Settings
from agrement.structures.cli import import_structures_command
from agrement.structures.commands import import_structures
from agrement.structures.domain.format import HEADER
from services.db import make_engine, make_session_factory
from services.outbox import OUTBOX

MAM = "MAM;MAM28-01;MAM Les Lucioles;contact@lucioles.fr;;3 rue des Lilas;28000;28085;;;open"
RPE = "RPE;RPE28-01;Relais de Chartres;rpe@chartres.fr;;;;;28085,28218;;open"


def text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def session_factory(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'agrement.sqlite3'}"
    else:
        url = request.getfixturevalue("real_servers").database("agrement_structures")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def events(session_factory) -> list[dict]:
    with session_factory() as session:
        return [json.loads(p) for p in session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.position))
                .scalars()]


def test_structures_become_registered_events_once(session_factory):
    report = import_structures(session_factory, text(MAM, RPE), "structures.csv")
    assert (report.rows_read, report.registered, report.rejections) == (2, 2, [])
    found = events(session_factory)
    assert [(e["type"], e["subject"]) for e in found] == [("structure.registered", "mam:MAM28-01"),
                                                          ("structure.registered", "rpe:RPE28-01")]
    assert found[1]["data"]["communes"] == ["28085", "28218"] and found[0]["data"]["email"] == "contact@lucioles.fr"
    again = import_structures(session_factory, text(MAM, RPE), "structures.csv")
    assert (again.unchanged, len(events(session_factory))) == (2, 2)


def test_a_new_address_and_a_closing_are_events(session_factory):
    import_structures(session_factory, text(MAM, RPE), "structures.csv")
    report = import_structures(session_factory, text(MAM.replace("contact@", "accueil@"),
                                                     RPE.replace(";open", ";closed")), "structures.csv")
    assert (report.modified, report.closed) == (1, 1)
    modified, closed = events(session_factory)[2:]
    assert modified["type"] == "structure.modified" and modified["data"]["changed_fields"] == ["email"]
    assert closed["type"] == "structure.closed"
    with session_factory() as session:
        assert session.execute(sa.select(structures.c.status).where(
            structures.c.structure_key == "rpe:RPE28-01")).scalar() == "closed"


def test_rejected_rows_are_reported_and_the_others_applied(session_factory):
    report = import_structures(session_factory, text(MAM, "RPE;RPE28-02;Sans communes;x@y.fr;;;;;;;"), "s.csv")
    assert report.registered == 1 and [r.line for r in report.rejections] == [3]


def test_the_command_exit_codes(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'agrement.sqlite3'}"
    metadata.create_all(make_engine(url))
    settings = Settings(environment="test", database_url=url)
    good = tmp_path / "good.csv"
    good.write_text(text(MAM), encoding="utf-8")
    assert import_structures_command(settings, [str(good)]) == 0
    partly = tmp_path / "partly.csv"
    partly.write_text(text(RPE, "MAM;;;;;;;;;;"), encoding="utf-8")
    assert import_structures_command(settings, [str(partly)]) == 1
    assert "ligne 3" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_bytes("type;nom\nMAM;é".encode("latin-1"))
    assert import_structures_command(settings, [str(bad)]) == 2
    assert import_structures_command(settings, [str(tmp_path / "absent.csv")]) == 2


def test_the_migrations_make_the_tables_of_the_code(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from services.db import upgrade
    url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    upgrade(url, "agrement:migrations")
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert [d for d in diff if "structures" in str(d)] == []
    assert sa.inspect(make_engine(url)).has_table("structures")
