"""Worker status: every worker writes a heartbeat row in its service's database; readiness reads it.

`WorkerStatus(session_factory, service).beat(consumer_state, consumer_detail, relay_state, relay_detail)` upserts
the worker's row (`worker_status`, one per worker process, id host:pid:random) every few seconds and deletes rows
silent for an hour (workers that died without `forget()`). `worker_check(session_factory, service, max_age)` is a
`/readyz` check: it raises `WorkerNotReady` unless some worker of the service beat within `max_age` seconds while
consuming (or having nothing to consume) with its outbox relay ok. `not_ready_reason(...)` says why, in French,
for `python -m <pkg> health`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.db import kernel_tables
from services.ordering import dialect_insert
from services.outbox import RELAY_OK, describe_error, new_instance_id

log = logging.getLogger("services.health")

_metadata = sa.MetaData()
kernel_tables(_metadata)
WORKER_STATUS = _metadata.tables["worker_status"]

CONSUMING = "consuming"
NO_CONSUMER = "none"  # a worker whose service consumes no event: only its relay matters
FORGET_AFTER = dt.timedelta(hours=1)
_DETAIL_LENGTH = 1000


class WorkerNotReady(RuntimeError):
    """No worker of the service is known to consume its queue and publish its outbox right now."""


@dataclasses.dataclass(frozen=True)
class WorkerState:
    worker_id: str
    service: str
    consumer_state: str
    consumer_detail: str | None
    relay_state: str
    relay_detail: str | None
    heartbeat_at: dt.datetime


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class WorkerStatus:
    def __init__(self, session_factory: sessionmaker[Session], service: str, worker_id: str | None = None):
        self.session_factory = session_factory
        self.service = service
        self.worker_id = worker_id or new_instance_id()

    def beat(self, consumer_state: str, consumer_detail: str | None, relay_state: str,
             relay_detail: str | None) -> bool:
        """Record the worker's state now; False (logged) when the database could not be written: a status that
        cannot be written must not stop the worker, and readiness will say the heartbeat is stale."""
        now = _utcnow()
        values = {"service": self.service, "consumer_state": consumer_state[:20],
                  "consumer_detail": (consumer_detail or "")[:_DETAIL_LENGTH] or None,
                  "relay_state": relay_state[:20], "relay_detail": (relay_detail or "")[:_DETAIL_LENGTH] or None,
                  "heartbeat_at": now}
        try:
            with self.session_factory() as session, session.begin():
                statement = dialect_insert(session, WORKER_STATUS).values(worker_id=self.worker_id, **values)
                session.execute(statement.on_conflict_do_update(index_elements=[WORKER_STATUS.c.worker_id],
                                                                set_=values))
                session.execute(WORKER_STATUS.delete().where(WORKER_STATUS.c.heartbeat_at < now - FORGET_AFTER))
            return True
        except Exception as error:
            log.warning("worker status not recorded", extra={"error": describe_error(error)})
            return False

    def forget(self) -> None:
        """On a clean stop: this worker no longer counts for readiness."""
        try:
            with self.session_factory() as session, session.begin():
                session.execute(WORKER_STATUS.delete().where(WORKER_STATUS.c.worker_id == self.worker_id))
        except Exception as error:
            log.warning("worker status not removed", extra={"error": describe_error(error)})


def read_states(session_factory: sessionmaker[Session], service: str) -> list[WorkerState]:
    with session_factory() as session:
        rows = session.execute(sa.select(WORKER_STATUS).where(WORKER_STATUS.c.service == service)
                               .order_by(WORKER_STATUS.c.heartbeat_at.desc())).mappings().all()
    return [WorkerState(**{**row, "heartbeat_at": _aware(row["heartbeat_at"])}) for row in rows]


def not_ready_reason(states: Iterable[WorkerState], service: str, now: dt.datetime,
                     max_age_seconds: float) -> str | None:
    """None when some worker of `service` beat within `max_age_seconds` of `now` while consuming (or having no
    consumer) with an ok relay; else why not, in French, about the most recent worker."""
    states = sorted((state for state in states if state.service == service),
                    key=lambda state: state.heartbeat_at, reverse=True)
    if not states:
        return f"aucun worker de {service} ne s'est signalé"
    fresh = [state for state in states if (now - state.heartbeat_at).total_seconds() <= max_age_seconds]
    if not fresh:
        age = (now - states[0].heartbeat_at).total_seconds()
        return (f"aucun worker de {service} ne s'est signalé depuis {age:.0f} s "
                f"(au plus {max_age_seconds:.0f} s attendues)")
    for state in fresh:
        if state.consumer_state in (CONSUMING, NO_CONSUMER) and state.relay_state == RELAY_OK:
            return None
    state = fresh[0]
    if state.consumer_state not in (CONSUMING, NO_CONSUMER):
        detail = f" ({state.consumer_detail})" if state.consumer_detail else ""
        return f"worker {state.worker_id} : consommation des événements {state.consumer_state}{detail}"
    detail = f" ({state.relay_detail})" if state.relay_detail else ""
    return f"worker {state.worker_id} : publication des événements {state.relay_state}{detail}"


def check_workers(session_factory: sessionmaker[Session], service: str, max_age_seconds: float) -> str | None:
    """`not_ready_reason` over the database's rows now (for `python -m <pkg> health`)."""
    return not_ready_reason(read_states(session_factory, service), service, _utcnow(), max_age_seconds)


def worker_check(session_factory: sessionmaker[Session], service: str,
                 max_age_seconds: float) -> Callable[[], None]:
    """A readiness check (`/readyz`'s `worker`): raises WorkerNotReady with the reason."""
    def check() -> None:
        reason = check_workers(session_factory, service, max_age_seconds)
        if reason is not None:
            raise WorkerNotReady(reason)
    return check


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes; the kernel always writes UTC.
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value
