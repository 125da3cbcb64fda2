"""The gates on every store the portal runs on: SQLite (embedded), PostgreSQL and Redis (real servers, the
production choice for several replicas). Same locks, same single-use captcha."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from identity.accounts.domain.refusals import Refusal
from identity.adapters.orm import audit_log, metadata
from identity.captcha.commands import new_challenge, read_challenge, solve
from identity.defences.throttle import Throttle, Throttled
from services.db import make_engine, make_session_factory
from services.expiring import open_store


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path}/store.sqlite3", namespace="identity")
    if request.param == "postgresql":
        return open_store(request.getfixturevalue("real_servers").database("identity_store"), namespace="identity")
    return open_store(request.getfixturevalue("real_redis"), namespace=request.getfixturevalue("redis_namespace"))


@pytest.fixture
def throttle(store, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.sqlite3")
    metadata.create_all(engine)
    yield Throttle(store, lambda: dt.datetime.now(dt.timezone.utc), make_session_factory(engine))
    engine.dispose()


def test_five_failures_lock_the_identifier_on_every_store(throttle):
    identifier = f"28{dt.datetime.now().microsecond:04d}"
    for _ in range(5):
        throttle.record_failure("activation_check", identifier, "192.0.2.1")
    with pytest.raises(Throttled) as locked:
        throttle.check("activation_check", identifier, "192.0.2.2", captcha_id="x" * 12, captcha_answer="AAAAA")
    assert 3590 <= locked.value.retry_after <= 3600
    with throttle.session_factory() as session:
        outcomes = session.execute(sa.select(audit_log.c.outcome)).scalars().all()
    assert outcomes.count("failure") == 5 and outcomes[-1] == "throttled"


def test_a_captcha_is_spent_by_its_first_answer_on_every_store(store):
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    challenge = new_challenge(store, now)
    answer, seed = read_challenge(store, challenge, now)
    assert solve(store, challenge, answer.lower(), now)
    assert not solve(store, challenge, answer, now)
    assert read_challenge(store, challenge, now) is None
    other = new_challenge(store, now)
    assert not solve(store, other, "wrong", now) and read_challenge(store, other, now) is None


def test_the_captcha_is_required_on_every_store(throttle):
    with pytest.raises(Refusal) as refused:
        throttle.check("activation_check", "280002", "192.0.2.3")
    assert refused.value.code == "captcha_required"
