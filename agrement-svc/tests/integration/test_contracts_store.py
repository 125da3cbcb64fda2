"""Contracts on a real database: migration 0004 makes the code's tables; a declaration and its events commit
together; children's data is erased a set time after departure (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from agrement.adapters.orm import contract_declarations, contracts, metadata
from agrement.contracts.commands import OverCapacity, declare_arrival, declare_departure, erase_departed_children
from agrement.extract.commands import import_extract
from agrement.extract.domain.demo import generate_demo_extract
from services.db import make_engine, make_session_factory, upgrade
from services.outbox import OUTBOX

AT = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)
OUR_TABLES = ("own_children", "contracts", "contract_declarations", "over_capacity_declarations")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agrement.sqlite3'}"
    return request.getfixturevalue("real_servers").database("agrement_contracts")


@pytest.fixture
def session_factory(database_url):
    upgrade(database_url, "agrement:migrations")
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    import_extract(factory, generate_demo_extract(count=5).splitlines(keepends=True), "d.csv")
    yield factory
    engine.dispose()


def arrival(name, start="2026-03-02"):
    return {"child_first_name": name, "child_birth_date": "2021-05-01", "start_date": start,
            "schedule": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
            "representatives": [{"name": "Paul Martin", "email": "paul@example.org"}]}


def test_migration_0004_makes_the_tables_of_the_code(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(database_url, "agrement:migrations")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert [d for d in diff if any(name in str(d) for name in OUR_TABLES)] == []


def test_an_over_capacity_refusal_saves_nothing_and_a_confirmation_saves_row_and_events(session_factory):
    for name in ("Ana", "Bea", "Cle", "Dan"):
        declare_arrival(session_factory, "280001", arrival(name), at=AT)
    with pytest.raises(OverCapacity):
        declare_arrival(session_factory, "280001", arrival("Eve"), at=AT)
    with session_factory() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(contracts)).scalar() == 4
        assert session.execute(sa.select(sa.func.count()).select_from(contract_declarations)).scalar() == 4
    declare_arrival(session_factory, "280001", arrival("Eve"), at=AT, confirm_over_capacity=True)
    with session_factory() as session:
        types = [json.loads(p)["type"] for p in session.execute(sa.select(OUTBOX.c.payload)).scalars()]
    assert types.count("contract.declared") == 5 and types.count("capacity.exceeded") == 1
    exceeded = [json.loads(p) for p in session_factory().execute(sa.select(OUTBOX.c.payload)).scalars()
                if json.loads(p)["type"] == "capacity.exceeded"][0]
    assert exceeded["data"]["circonscription"] == "Chartres"
    assert "Eve" not in json.dumps(exceeded)    # no child's name travels


def test_children_data_is_erased_the_set_time_after_departure_and_only_then(session_factory):
    gone = declare_arrival(session_factory, "280001", arrival("Ana", "2025-01-06"), at=AT).contract_id
    declare_departure(session_factory, "280001", gone, {"end_date": "2025-03-01"}, at=AT)
    staying = declare_arrival(session_factory, "280001", arrival("Bea"), at=AT).contract_id
    assert erase_departed_children(session_factory, dt.date(2026, 2, 28), retention_days=365) == 0
    assert erase_departed_children(session_factory, dt.date(2026, 3, 2), retention_days=365) == 1
    assert erase_departed_children(session_factory, dt.date(2026, 3, 2), retention_days=365) == 0   # idempotent
    with session_factory() as session:
        rows = {r.id: r for r in session.execute(sa.select(contracts))}
        kinds = session.execute(sa.select(contract_declarations.c.kind)
                                .where(contract_declarations.c.contract_id == gone)).scalars().all()
    erased = rows[gone]
    assert (erased.child_first_name, erased.child_birth_date, erased.representatives, erased.schedule) == (
        None, None, None, None)
    assert erased.erased_at is not None and erased.start_date == dt.date(2025, 1, 6)
    assert sorted(kinds) == ["arrival", "departure"]     # the PMI's follow-up stays, nameless
    assert rows[staying].child_first_name == "Bea"


def test_the_worker_job_erases_on_its_schedule_and_can_be_turned_off(session_factory):
    import threading
    from types import SimpleNamespace

    from agrement.contracts.commands import erasure_job
    gone = declare_arrival(session_factory, "280001", arrival("Ana", "2022-01-03"), at=AT).contract_id
    declare_departure(session_factory, "280001", gone, {"end_date": "2022-03-01"}, at=AT)
    stop = threading.Event()
    off = SimpleNamespace(session_factory=session_factory, settings=SimpleNamespace(
        child_data_sweep_seconds=0, child_data_retention_days=365))
    erasure_job(off, stop)     # turned off: returns at once, erases nothing
    with session_factory() as session:
        assert session.execute(sa.select(contracts.c.child_first_name)).scalar() == "Ana"
    on = SimpleNamespace(session_factory=session_factory, settings=SimpleNamespace(
        child_data_sweep_seconds=3600, child_data_retention_days=365))
    stop.set()                 # one sweep, then the stop is seen
    erasure_job(on, stop)
    assert stop.is_set()
    with session_factory() as session:
        assert session.execute(sa.select(contracts.c.child_first_name)).scalar() is None
