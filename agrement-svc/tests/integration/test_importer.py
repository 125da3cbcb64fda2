"""Applying extracts: state and events written together, idempotent re-import (SQLite here, PostgreSQL below)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from agrement.adapters.orm import agrements, import_runs, metadata
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from services.db import make_engine, make_session_factory
from services.outbox import OUTBOX

HEADER, *DEMO_ROWS = generate_demo_extract(count=40, seed=7).splitlines()


def lines(rows: list[str]) -> list[str]:
    return [HEADER + "\n"] + [row + "\n" for row in rows]


def replace_cell(row: str, column: str, value: str) -> str:
    cells = row.split(";")
    cells[HEADER.split(";").index(column)] = value
    return ";".join(cells)


@pytest.fixture(params=["sqlite", "postgresql"])
def session_factory(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'agrement.sqlite3'}"
    else:
        url = request.getfixturevalue("real_servers").database("agrement_import")
    engine = make_engine(url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def outbox_events(session_factory) -> list[dict]:
    with session_factory() as session:
        return [json.loads(p) for p in session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.position))
                .scalars()]


def test_new_rows_are_stored_and_each_becomes_a_granted_event(session_factory):
    report = import_extract(session_factory, lines(DEMO_ROWS), "demo.csv", batch_size=7)
    assert (report.rows_read, report.granted, report.rejections) == (40, 40, [])
    events = outbox_events(session_factory)
    assert [e["type"] for e in events] == ["agrement.granted"] * 40
    assert {e["subject"] for e in events} == {row.split(";")[0] for row in DEMO_ROWS}
    with session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(agrements)).scalar_one() == 40
        run = session.execute(sa.select(import_runs)).mappings().one()
    assert (run["granted"], run["rejected"], run["file_name"]) == (40, 0, "demo.csv")


def test_the_same_extract_twice_changes_nothing(session_factory):
    import_extract(session_factory, lines(DEMO_ROWS), "demo.csv")
    again = import_extract(session_factory, lines(DEMO_ROWS), "demo.csv")
    assert (again.granted, again.modified, again.withdrawn, again.unchanged) == (0, 0, 0, 40)
    assert len(outbox_events(session_factory)) == 40


def test_a_changed_row_is_a_modification_naming_the_changed_fields(session_factory):
    import_extract(session_factory, lines(DEMO_ROWS), "demo.csv")
    changed = [replace_cell(DEMO_ROWS[3], "last_name", "NOUVEAUNOM")] + DEMO_ROWS[4:]
    report = import_extract(session_factory, lines(changed), "v2.csv")
    assert (report.modified, report.unchanged) == (1, 36)
    last = outbox_events(session_factory)[-1]
    assert last["type"] == "agrement.modified" and last["data"]["last_name"] == "NOUVEAUNOM"
    assert last["data"]["changed_fields"] == ["last_name"]
    # The agrément's history keeps what the extract changed (shown in the assmat's Agrément tab).
    from agrement.my_agrement.queries import history
    with session_factory() as session:
        entries = history(session, DEMO_ROWS[3].split(";")[0])
    assert entries[0]["action"] == "extract" and entries[0]["changes"]["last_name"][1] == "NOUVEAUNOM"
    assert entries[-1]["action"] == "registered" and len(entries) == 2


def test_withdrawal_is_its_own_event_and_a_row_missing_from_an_extract_is_not_a_withdrawal(session_factory):
    import_extract(session_factory, lines(DEMO_ROWS), "demo.csv")
    active = next(row for row in DEMO_ROWS if ";active;" in row)
    report = import_extract(session_factory, lines([replace_cell(active, "status", "withdrawn")]), "w.csv")
    assert report.withdrawn == 1
    assert outbox_events(session_factory)[-1]["type"] == "agrement.withdrawn"
    with session_factory() as session:
        statuses = dict(session.execute(sa.select(agrements.c.pmi_number, agrements.c.status)).all())
    assert statuses[active.split(";")[0]] == "withdrawn"
    assert sum(1 for status in statuses.values() if status == "withdrawn") == \
        1 + sum(1 for row in DEMO_ROWS if ";withdrawn;" in row and row != active)


def test_rejected_rows_are_reported_with_their_line_and_the_valid_rows_apply(session_factory):
    bad = [replace_cell(DEMO_ROWS[0], "pmi_number", "12345"), DEMO_ROWS[1],
           replace_cell(DEMO_ROWS[2], "commune_insee", "99999"), DEMO_ROWS[1]]
    report = import_extract(session_factory, lines(bad), "bad.csv")
    assert report.granted == 1
    assert [(r.line, r.pmi_number) for r in report.rejections] == [
        (2, None), (4, DEMO_ROWS[2].split(";")[0]), (5, DEMO_ROWS[1].split(";")[0])]
    assert "déjà ligne 3" in " ".join(report.rejections[2].reasons)
