"""Worker status on PostgreSQL and on SQLite: heartbeats, readiness from them, and why a worker is not ready."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from services.db import UnitOfWork, kernel_tables, make_engine, make_session_factory
from services.events import Event
from services.health import (CONSUMING, NO_CONSUMER, WORKER_STATUS, WorkerNotReady, WorkerState, WorkerStatus,
                             check_workers, not_ready_reason, read_states, worker_check)
from services.outbox import OutboxRelay

metadata = sa.MetaData()
kernel_tables(metadata)
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["postgres", "sqlite"])
def session_factory(request, tmp_path):
    if request.param == "postgres":
        url = request.getfixturevalue("real_servers").database(f"status_{uuid.uuid4().hex[:6]}")
    else:
        url = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def state(consumer: str = CONSUMING, relay: str = "ok", age: float = 1, service: str = "fiche",
          worker_id: str = "h:1:a", relay_detail: str | None = None) -> WorkerState:
    return WorkerState(worker_id=worker_id, service=service, consumer_state=consumer, consumer_detail=None,
                       relay_state=relay, relay_detail=relay_detail, heartbeat_at=NOW - dt.timedelta(seconds=age))


def test_a_consuming_worker_with_an_ok_relay_and_a_fresh_heartbeat_is_ready():
    assert not_ready_reason([state()], "fiche", NOW, 30) is None
    assert not_ready_reason([state(NO_CONSUMER)], "fiche", NOW, 30) is None, "nothing to consume is fine"
    assert not_ready_reason([state("paused", age=2), state(worker_id="h:2:b", age=5)], "fiche", NOW, 30) is None


@pytest.mark.parametrize("states,reason", [
    ([], "aucun worker de fiche ne s'est signalé"),
    ([state(service="geo")], "aucun worker de fiche ne s'est signalé"),
    ([state(age=45)], "depuis 45 s"),
    ([state("paused")], "consommation des événements paused"),
    ([state(relay="unavailable", relay_detail="broker unavailable since 2026-03-01T11:59:00+00:00: refused")],
     "publication des événements unavailable (broker unavailable since"),
])
def test_why_a_worker_is_not_ready(states, reason):
    assert reason in not_ready_reason(states, "fiche", NOW, 30)


def test_heartbeats_make_the_service_ready_and_a_clean_stop_forgets_the_worker(session_factory):
    check = worker_check(session_factory, "fiche", max_age_seconds=30)
    with pytest.raises(WorkerNotReady, match="aucun worker"):
        check()
    status = WorkerStatus(session_factory, "fiche")
    assert status.beat("starting", None, "ok", None)
    with pytest.raises(WorkerNotReady, match="starting"):
        check()
    assert status.beat(CONSUMING, None, "ok", None)
    check()
    [row] = read_states(session_factory, "fiche")
    assert row.worker_id == status.worker_id and row.worker_id.count(":") == 2
    assert (NOW.replace(year=2100) - row.heartbeat_at).total_seconds() > 0, "times come back aware"
    status.forget()
    assert read_states(session_factory, "fiche") == []


def test_a_worker_whose_relay_cannot_reach_the_broker_is_not_ready(session_factory):
    class DownBus:
        def publish_many(self, events, timeout):
            raise ConnectionError("Connection refused")

    with UnitOfWork(session_factory) as uow:
        uow.add_event(Event(type="fiche.published", version=1, subject="280001", data={}, producer="fiche-svc"))
        uow.commit()
    relay = OutboxRelay(session_factory, DownBus())
    relay.run_once()
    WorkerStatus(session_factory, "fiche").beat(CONSUMING, None, relay.state, relay.detail)
    reason = check_workers(session_factory, "fiche", 30)
    assert "publication des événements unavailable" in reason and "Connection refused" in reason


def test_a_stale_heartbeat_is_not_ready_and_an_hour_old_one_is_deleted(session_factory):
    dead = WorkerStatus(session_factory, "fiche", worker_id="old-host:1:dead")
    dead.beat(CONSUMING, None, "ok", None)
    with session_factory() as session, session.begin():
        session.execute(WORKER_STATUS.update().values(heartbeat_at=dt.datetime.now(dt.timezone.utc)
                                                      - dt.timedelta(minutes=5)))
    assert "depuis 300 s" in check_workers(session_factory, "fiche", 30)
    with session_factory() as session, session.begin():
        session.execute(WORKER_STATUS.update().values(heartbeat_at=dt.datetime.now(dt.timezone.utc)
                                                      - dt.timedelta(hours=2)))
    alive = WorkerStatus(session_factory, "fiche")
    alive.beat(NO_CONSUMER, None, "ok", None)
    assert [s.worker_id for s in read_states(session_factory, "fiche")] == [alive.worker_id]


def test_a_heartbeat_that_cannot_be_written_is_logged_not_raised(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}")
    status = WorkerStatus(make_session_factory(engine), "fiche")
    assert status.beat(CONSUMING, None, "ok", None) is False
    status.forget()
    assert "worker status not recorded" in caplog.text
    engine.dispose()
