"""`assmat bench pipeline` and `assmat bench relay`: the event backbone's throughput, measured end to end.

pipeline: fresh databases (PostgreSQL with `--postgres-url`, else SQLite files) and a fresh bus namespace (RabbitMQ
with `--broker-url`, else the embedded SQLite transport); `python -m <pkg> migrate` for each service; each
service's worker started as a process; an N-row demo extract imported with `python -m agrement import`. Meanwhile
a probe polls every database once a second (outbox rows pending, inbox rows, searchable fiches) and the broker (queue
depths). It prints the import's rate, the relay's, each consumer's, the time until every fiche is searchable, and a
plain kombu publish loop (with confirms and without) on the same broker, so that the ratios show. Everything it
created (databases, queues, exchanges, processes, files) is removed at the end, whatever happens.

relay: an outbox of N rows (agrément-sized events) published by `OutboxRelay` to one queue, against the plain kombu
loop on the same broker. Quick: no service is started.

The figures are printed, never asserted; the last line is one JSON object holding all of them. The kernel never
imports a service: services are started through their commands, and the probe reads their tables with plain SQL.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

PLAIN_LOOP_MAX = 20_000      # messages of each plain kombu loop (a few seconds on RabbitMQ)
SAMPLE_SECONDS = 1.0         # the probe's period
WORKERS_READY_TIMEOUT = 180  # geo-svc loads the communes of all France before it consumes
# A queue the probe finds this long empty, with every outbox sent and every inbox complete, means the run is over.
SETTLE_SAMPLES = 2
PROBE_NAME = "assmat-bench-probe"  # its PostgreSQL connections, left out of the services' database CPU


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _log(line: str) -> None:
    print(line, flush=True)


def _uptime() -> str:
    try:
        return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load ?"


# -- stores: databases and bus namespace of one run ---------------------------------------------------------------

def _admin_engine(postgres_url: str):
    from services.db import normalize_url
    return sa.create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@dataclasses.dataclass
class Stores:
    """Where a run keeps its data: one database per service and a bus namespace, all with the run's suffix."""
    folder: Path
    suffix: str
    postgres_url: str | None
    broker_url: str
    databases: dict[str, str] = dataclasses.field(default_factory=dict)
    _created: list[str] = dataclasses.field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"bench_{self.suffix}"

    def database(self, name: str) -> str:
        if self.postgres_url is None:
            url = f"sqlite:///{self.folder / (name + '.sqlite3')}"
        else:
            from sqlalchemy.engine import make_url

            from services.db import normalize_url
            db_name = f"bench_{self.suffix}_{name}"
            engine = _admin_engine(self.postgres_url)
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
            finally:
                engine.dispose()
            self._created.append(db_name)
            url = make_url(normalize_url(self.postgres_url)).set(database=db_name).render_as_string(
                hide_password=False)
        self.databases[name] = url
        return url

    def drop(self) -> None:
        if self.postgres_url is None or not self._created:
            return
        engine = _admin_engine(self.postgres_url)
        try:
            with engine.connect() as connection:
                for db_name in self._created:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            engine.dispose()
        self._created.clear()


def _new_stores(folder: Path, postgres_url: str | None, broker_url: str | None) -> Stores:
    suffix = secrets.token_hex(4)
    return Stores(folder=folder, suffix=suffix, postgres_url=postgres_url,
                  broker_url=broker_url or f"sqlitebus:///{folder / 'bus.sqlite3'}")


def delete_namespace(broker_url: str, namespace: str, services: dict[str, list[str]], retry_delays_ms,
                     extra_queues=(), extra_exchanges=()) -> None:
    """Delete what `Bus.declare_topology` declared for `services` in `namespace` (and the named extras)."""
    from services.bus import Bus, connect
    bus = Bus(broker_url, namespace)
    queues = [bus.unroutable_queue_name, *extra_queues]
    for service in services:
        queues += [bus.queue_name(service), bus.dead_letter_queue_name(service),
                   *(bus.retry_queue_name(service, delay) for delay in retry_delays_ms)]
    with bus.connection() as conn:
        connect(conn)
        for name in queues:
            with contextlib.suppress(Exception):
                conn.channel().queue_delete(name)
        for name in (bus.exchange.name, bus.unroutable_exchange.name, *extra_exchanges):
            with contextlib.suppress(Exception):
                conn.channel().exchange_delete(name)


# -- the plain kombu loop ------------------------------------------------------------------------------------------

def plain_kombu_loop(broker_url: str, namespace: str, count: int, body: bytes, *, confirms: bool,
                     queues: int = 1) -> dict:
    """Publish `count` persistent messages of `body` one by one with kombu's Producer, to a topic exchange bound to
    `queues` quorum queues (the relay's destinations are quorum queues too): with `confirms`, each publish waits for
    the broker's confirm (kombu's `confirm_publish`). Returns the rate; deletes what it declared."""
    from kombu import Connection, Exchange, Producer, Queue

    from services.bus import sqlite_transport
    sqlite_transport.register()
    is_amqp = broker_url.startswith(("amqp", "pyamqp"))
    tag = f"{namespace}.plain{'c' if confirms else 'n'}"
    exchange = Exchange(f"{tag}.events", type="topic", durable=True)
    arguments = {"x-queue-type": "quorum"} if is_amqp else {}
    bound = [Queue(f"{tag}.{index}", exchange, routing_key="#", durable=True, queue_arguments=arguments)
             for index in range(queues)]
    options = {"confirm_publish": True} if confirms and is_amqp else {}
    with Connection(broker_url, transport_options=options) as conn:
        channel = conn.channel()
        for queue in bound:
            queue(channel).declare()
        producer = Producer(channel, exchange=exchange)
        started = time.perf_counter()
        for _ in range(count):
            producer.publish(body, routing_key="agrement.granted", content_type="application/json",
                             content_encoding="utf-8", delivery_mode=2, message_id=str(uuid.uuid4()))
        elapsed = time.perf_counter() - started
        for queue in bound:
            with contextlib.suppress(Exception):
                queue(conn.channel()).delete()
        with contextlib.suppress(Exception):
            exchange(conn.channel()).delete()
    return {"messages": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1),
            "confirms": confirms and is_amqp, "queues": queues}


def _plain_loops(broker_url: str, namespace: str, count: int, body: bytes, queues: int) -> dict:
    figures = {}
    for confirms in (True, False):
        name = "plain_with_confirms" if confirms else "plain_without_confirms"
        figures[name] = plain_kombu_loop(broker_url, namespace, count, body, confirms=confirms, queues=queues)
        _log(f"plain kombu loop {'with' if confirms else 'without'} confirms"
             f"{'' if figures[name]['confirms'] or not confirms else ' (none on this transport)'}: {count:,} messages "
             f"({len(body)} bytes, {queues} quorum queue(s)) in {figures[name]['seconds']:.2f} s = "
             f"{figures[name]['per_second']:,.0f}/s ({_uptime()})")
    return figures


# -- the relay alone ------------------------------------------------------------------------------------------------

def sample_event(index: int):
    """An event the size and shape of an agrement.granted (about 900 bytes of JSON)."""
    from services.events import Event
    number = f"{280_002 + index:06d}"
    return Event(type="agrement.granted", version=1, producer="agrement", subject=number, data={
        "pmi_number": number, "civility": "Mme", "last_name": "MARTIN", "first_name": "Nathalie",
        "birth_date": "1979-03-14", "address_line": f"{index % 90 + 1} rue des Tilleuls", "postcode": "28000",
        "commune_insee": "28085", "circonscription": "Chartres", "capacity_total": 4, "capacity_under_3": 3,
        "validity_start": "2022-09-01", "validity_end": "2032-08-31", "status": "active", "place_type": "home",
        "phone": "02 61 91 00 01", "email": f"assmat{index}@example.org", "mam_id": "", "mam_name": "",
        "publication_opposed": False, "legacy_own_children_counted": False})


def run_relay(size: int, postgres_url: str | None = None, broker_url: str | None = None) -> dict:
    """`assmat bench relay`: an outbox of `size` rows published by OutboxRelay, then the plain kombu loops."""
    from services.bus import Bus
    from services.db import UnitOfWork, kernel_tables, make_engine, make_session_factory
    from services.outbox import OutboxRelay, record_many

    folder = Path(tempfile.mkdtemp(prefix="assmat-bench-relay-"))
    stores = _new_stores(folder, postgres_url, broker_url)
    consumers = {"sink": ["agrement.granted"]}
    bus = engine = None
    try:
        url = stores.database("relay")
        engine = make_engine(url)
        metadata = sa.MetaData()
        kernel_tables(metadata)
        metadata.create_all(engine)
        session_factory = make_session_factory(engine)
        events = [sample_event(index) for index in range(size)]
        started = time.perf_counter()
        for start in range(0, size, 1000):
            with UnitOfWork(session_factory) as uow:
                record_many(uow.session, events[start:start + 1000])
                uow.commit()
        write_seconds = time.perf_counter() - started
        bus = Bus(stores.broker_url, stores.namespace)
        bus.declare_topology(consumers, [])
        relay = OutboxRelay(session_factory, bus)
        bus.publish_many([sample_event(size)])  # connects and declares: not what is measured
        started = time.perf_counter()
        sent = sum(iter(relay.run_once, 0))
        seconds = time.perf_counter() - started
        relay_rate = sent / seconds if seconds else 0.0
        _log(f"outbox: {size:,} events written in {write_seconds:.2f} s = {size / write_seconds:,.0f}/s; "
             f"relay: {sent:,} published in {seconds:.2f} s = {relay_rate:,.0f}/s "
             f"(batches of {relay.batch_size}, {stores.broker_url.split(':')[0]}, {_uptime()})")
        body = events[0].to_json().encode("utf-8")
        loops = _plain_loops(stores.broker_url, stores.namespace, min(size, PLAIN_LOOP_MAX), body, queues=1)
        figures = {"bench": "relay", "size": size, "database": engine.dialect.name, "namespace": stores.namespace,
                   "broker": stores.broker_url.split(":")[0], "outbox_write_per_second": round(size / write_seconds, 1),
                   "relay_per_second": round(relay_rate, 1), "relay_batch_size": relay.batch_size, **loops,
                   "relay_vs_plain_with_confirms": round(relay_rate / loops["plain_with_confirms"]["per_second"], 2),
                   "load": _uptime()}
        _log(f"relay / plain loop with confirms: {figures['relay_vs_plain_with_confirms']:.0%}")
        return figures
    finally:
        if bus is not None:
            bus.close()
        if engine is not None:
            engine.dispose()
        with contextlib.suppress(Exception):
            delete_namespace(stores.broker_url, stores.namespace, consumers, [])
        stores.drop()
        shutil.rmtree(folder, ignore_errors=True)


# -- the probe -------------------------------------------------------------------------------------------------------

_PENDING = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL"
_WRITTEN = "SELECT coalesce(max(position), 0) FROM outbox"
_INBOX = "SELECT count(*) FROM inbox"
# What fiche-svc's search shows (fiche.views.visible, joined to the commune a search goes through).
_SEARCHABLE = ("SELECT count(*) FROM fiches JOIN communes ON communes.insee_code = fiches.commune_insee "
               "WHERE fiches.publishable = :yes "
               "AND (fiches.validity_start IS NULL OR fiches.validity_start <= :today) "
               "AND (fiches.validity_end IS NULL OR fiches.validity_end >= :today)")


@dataclasses.dataclass
class Sample:
    at: float                    # seconds since the import started
    written: dict[str, int]      # outbox rows written so far, by producer (the last position: rows are dense)
    pending: dict[str, int]      # outbox rows to publish, by producer
    inbox: dict[str, int]        # events handled, by consumer
    queued: dict[str, int]       # messages ready in the consumer's queue
    searchable: int | None
    cost: float                  # seconds the probe took


class Probe:
    """Reads the run's databases and queues. Its readers never take a write lock (SQLite: read-only sessions)."""

    def __init__(self, databases: dict[str, str], producers: list[str], consumers: list[str], bus,
                 fiche_service: str | None):
        from services.db import make_engine, read_only
        # One kept connection per database and one to the broker: a connection per look cost more than the looks.
        self.engines = {name: read_only(make_engine(url, pool_size=1, max_overflow=2,
                                                    connect_args={"application_name": PROBE_NAME})
                                        if url.startswith("postgres") else make_engine(url))
                        for name, url in databases.items()}
        self.producers, self.consumers, self.bus = producers, consumers, bus
        self.fiche_service = fiche_service
        self.samples: list[Sample] = []
        self.origin = time.monotonic()
        self._broker = None

    def _queued(self, name: str) -> int:
        from kombu import Queue

        from services.bus import connect
        try:
            if self._broker is None:
                self._broker = connect(self.bus.connection())
            channel = self._broker.default_channel
            return Queue(self.bus.queue_name(name))(channel).queue_declare(passive=True).message_count
        except Exception:
            if self._broker is not None:
                with contextlib.suppress(Exception):
                    self._broker.release()
            self._broker = None
            return -1

    def _scalar(self, service: str, query: str, **params) -> int:
        with self.engines[service].connect() as connection:
            return int(connection.execute(sa.text(query), params).scalar_one())

    def searchable(self) -> int | None:
        if self.fiche_service is None:
            return None
        return self._scalar(self.fiche_service, _SEARCHABLE, yes=True, today=dt.date.today())

    def sample(self) -> Sample:
        started = time.monotonic()
        written = {name: self._scalar(name, _WRITTEN) for name in self.producers}
        pending = {name: self._scalar(name, _PENDING) for name in self.producers}
        inbox = {name: self._scalar(name, _INBOX) for name in self.consumers}
        queued = {name: self._queued(name) for name in self.consumers}
        sample = Sample(at=started - self.origin, written=written, pending=pending, inbox=inbox, queued=queued,
                        searchable=self.searchable(), cost=time.monotonic() - started)
        self.samples.append(sample)
        return sample

    def expected(self, consumed: dict[str, list[str]]) -> dict[str, int]:
        """Events each consumer must have handled once everything published is handled: the rows of every outbox
        whose type it consumes."""
        by_type: dict[str, int] = {}
        for name in self.producers:
            with self.engines[name].connect() as connection:
                for event_type, count in connection.execute(
                        sa.text("SELECT event_type, count(*) FROM outbox GROUP BY event_type")):
                    by_type[event_type] = by_type.get(event_type, 0) + int(count)
        return {name: sum(by_type.get(t, 0) for t in consumed[name]) for name in self.consumers}

    def outbox_types(self) -> dict[str, dict[str, list[int]]]:
        """Per producer and event type: [rows, sent, parked]."""
        found = {}
        for name in self.producers:
            with self.engines[name].connect() as connection:
                found[name] = {row[0]: [int(row[1]), int(row[2]), int(row[3])] for row in connection.execute(sa.text(
                    "SELECT event_type, count(*), count(sent_at), count(parked_at) FROM outbox GROUP BY event_type"))}
        return found

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        if self._broker is not None:
            with contextlib.suppress(Exception):
                self._broker.release()


def busy_rate(samples: list[Sample], done, backlog, threshold: int) -> dict:
    """How fast a stage went while work waited for it (its backlog at the start of an interval above `threshold`):
    what it did in those intervals over their length; and over its whole active span (first to last progress)."""
    busy_done = busy_seconds = 0.0
    first = last = None
    for before, after in zip(samples, samples[1:]):
        progress = done(after) - done(before)
        if progress > 0:
            first = before.at if first is None else first
            last = after.at
        if backlog(before) > threshold:
            busy_done += progress
            busy_seconds += after.at - before.at
    total = done(samples[-1]) - done(samples[0]) if samples else 0
    span = (last - first) if first is not None else 0.0
    return {"busy_per_second": round(busy_done / busy_seconds, 1) if busy_seconds else None,
            "busy_seconds": round(busy_seconds, 1),
            "overall_per_second": round(total / span, 1) if span else None,
            "active_seconds": round(span, 1), "events": int(total)}


# -- processes --------------------------------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float | None:
    from services.cli import _cpu_seconds as read
    return read(pid)


def _database_cpu(postgres_url: str | None, db_names: dict[str, str]) -> dict[str, float]:
    """CPU seconds used so far by the PostgreSQL backends connected to each database (Linux /proc), when readable:
    the services' connections, which live as long as their pools keep them (an approximation)."""
    if postgres_url is None:
        return {}
    engine = _admin_engine(postgres_url)
    found: dict[str, float] = {}
    try:
        with engine.connect() as connection:
            for service, db_name in db_names.items():
                pids = connection.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :name AND application_name <> :probe"),
                    {"name": db_name, "probe": PROBE_NAME}).scalars().all()
                found[service] = round(sum(_cpu_seconds(pid) or 0.0 for pid in pids), 2)
    finally:
        engine.dispose()
    return found


def _wait_workers(probe: Probe, group, services: list[str], timeout: float) -> None:
    """Until each service's worker beat while consuming (or having nothing to consume) with its relay ok."""
    deadline = time.monotonic() + timeout
    waiting = list(services)
    while waiting:
        dead = group.dead()
        if dead:
            raise RuntimeError(f"worker(s) ended during start-up: {', '.join(dead)} (logs: {group.log_dir})")
        for service in list(waiting):
            try:
                with probe.engines[service].connect() as connection:
                    ready = connection.execute(sa.text(
                        "SELECT count(*) FROM worker_status WHERE consumer_state IN ('consuming', 'none') "
                        "AND relay_state = 'ok'")).scalar_one()
            except Exception:
                ready = 0
            if ready:
                waiting.remove(service)
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {timeout:.0f} s: {', '.join(waiting)} "
                               f"(logs: {group.log_dir})")
        time.sleep(0.5)


def _run_timed(argv: list[str], env: dict[str, str], log_file: Path) -> tuple[float, float, int]:
    """Run a command; (wall seconds, CPU seconds of the child, exit code)."""
    with log_file.open("ab") as output:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        return time.monotonic() - started, usage.ru_utime + usage.ru_stime, process.returncode


# -- the pipeline ----------------------------------------------------------------------------------------------------

def run_pipeline(size: int, postgres_url: str | None = None, broker_url: str | None = None, *,
                 settle_timeout: float = 7200.0, keep_logs: bool = False, profile_dir: str | None = None,
                 replicas: dict[str, int] | None = None) -> dict:
    from services.bus import Bus
    from services.cli import ProcessGroup, embedded_environment, portal_services

    folder = Path(tempfile.mkdtemp(prefix="assmat-bench-pipeline-"))
    stores = _new_stores(folder, postgres_url, broker_url)
    manifests = [m for m in portal_services() if m.migrations is not None or m.has_worker]
    consumed = {m.name: m.consumed_types for m in manifests if m.consumed_types}
    workers = [m.name for m in manifests if m.has_worker]
    fiche = "fiche" if "fiche" in consumed else None
    env = embedded_environment(folder / "data")
    retry_delays = [500, 2000, 10000]
    env.update({
        "ASSMAT_ENV": "local" if postgres_url is None else "test",
        "LOG_FORMAT": "text",
        "BROKER_URL": stores.broker_url,
        "BUS_NAMESPACE": stores.namespace,
        # If this run dies before it cleans up, the broker still deletes its queues once unused that long.
        "BUS_QUEUE_EXPIRES_MS": "900000",
        "CONSUMER_RETRY_DELAYS_MS": ",".join(map(str, retry_delays)),
    })
    group = ProcessGroup(env, log_dir=folder / "logs")
    probe = bus = None
    # Stopped by SIGTERM as by Ctrl-C: the clean-up below must run (workers, databases, queues, files).
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    figures: dict = {"bench": "pipeline", "size": size, "database": "postgresql" if postgres_url else "sqlite",
                     "broker": stores.broker_url.split(":")[0], "namespace": stores.namespace,
                     "replicas": {name: count for name, count in (replicas or {}).items() if count > 1}}
    try:
        for manifest in manifests:
            if manifest.migrations is not None:
                env[f"{manifest.name.upper()}_DATABASE_URL"] = stores.database(manifest.name)
        _log(f"== pipeline: {size:,} rows, {figures['database']} + {figures['broker']}, namespace "
             f"{stores.namespace} ({_uptime()})")
        for manifest in manifests:
            done = subprocess.run([sys.executable, "-m", manifest.name, "migrate"], env=env, capture_output=True,
                                  text=True)
            if done.returncode:
                raise RuntimeError(f"{manifest.name} migrate failed:\n{done.stdout}{done.stderr}")
        extract = folder / "extract.csv"
        subprocess.run([sys.executable, "-m", "agrement", "demo-extract", "--count", str(size), "--out",
                        str(extract)], env=env, check=True)
        body = sample_event(0).to_json().encode("utf-8")
        # Before the workers start, on a quiet broker: the best the plain loop can do. As many queues as an
        # agrement.granted reaches.
        fanout = sum(1 for types in consumed.values() if "agrement.granted" in types) or 1
        figures.update(_plain_loops(stores.broker_url, stores.namespace, min(size, PLAIN_LOOP_MAX), body, fanout))

        bus = Bus(stores.broker_url, stores.namespace)
        probe = Probe(stores.databases, [m.name for m in manifests if m.migrations is not None and m.has_worker],
                      list(consumed), bus, fiche)
        def python(name: str) -> list[str]:
            """The interpreter, under cProfile when asked (its profile is written when the process ends)."""
            if profile_dir is None:
                return [sys.executable]
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
            return [sys.executable, "-m", "cProfile", "-o", str(Path(profile_dir).resolve() / f"{name}.prof")]

        # Replicas of a worker (as an operator runs them on PostgreSQL): fiche-worker, fiche-worker-2, ...
        for name in workers:
            for index in range(1, max(1, (replicas or {}).get(name, 1)) + 1):
                process = f"{name}-worker" if index == 1 else f"{name}-worker-{index}"
                group.start(process, [*python(process), "-m", name, "worker"])
        started = time.monotonic()
        _wait_workers(probe, group, workers, WORKERS_READY_TIMEOUT)
        _log(f"workers ready in {time.monotonic() - started:.1f} s: {', '.join(workers)}")
        cpu_before = _worker_cpu(group)
        db_names = {name: f"bench_{stores.suffix}_{name}" for name in stores.databases}
        db_cpu_before = _database_cpu(postgres_url, db_names)

        stop = threading.Event()
        probe.origin = time.monotonic()
        probe.sample()

        def sampling():
            while not stop.wait(SAMPLE_SECONDS):
                with contextlib.suppress(Exception):
                    probe.sample()

        sampler = threading.Thread(target=sampling, name="probe", daemon=True)
        sampler.start()
        import_seconds, import_cpu, code = _run_timed(
            [*python("import"), "-m", "agrement", "import", str(extract), "--quiet"], env,
            folder / "logs" / "import.log")
        if code not in (0, 1):  # 1: some rows were rejected, which a demo extract never has
            raise RuntimeError(f"import failed with exit code {code} (logs: {folder / 'logs'})")
        figures["import"] = {"rows": size, "seconds": round(import_seconds, 1),
                             "rows_per_second": round(size / import_seconds, 1), "cpu_seconds": round(import_cpu, 1),
                             "load": _uptime()}
        _log(f"import: {size:,} rows in {import_seconds:.1f} s = {size / import_seconds:,.0f} rows/s "
             f"({import_cpu:.1f} s CPU; {_uptime()})")

        # Until every outbox is published and every consumer handled all it was sent.
        settled, expected, last_report = 0, None, time.monotonic()
        deadline = time.monotonic() + settle_timeout
        while True:
            time.sleep(SAMPLE_SECONDS)
            dead = group.dead()
            if dead:
                raise RuntimeError(f"worker(s) ended: {', '.join(dead)} (logs: {group.log_dir})")
            latest = probe.samples[-1]
            relevant_pending = _relevant_pending(probe, consumed)
            if relevant_pending == 0 and all(count <= 0 for count in latest.queued.values()):
                expected = probe.expected(consumed)
                complete = all(latest.inbox[name] >= expected[name] for name in consumed)
                settled = settled + 1 if complete else 0
                if settled >= SETTLE_SAMPLES:
                    break
            if time.monotonic() - last_report >= 15:
                last_report = time.monotonic()
                _log(f"  t={latest.at:.0f} s: outbox pending {latest.pending}, handled {latest.inbox}, "
                     f"queued {latest.queued}, searchable {latest.searchable} ({_uptime()})")
            if time.monotonic() > deadline:  # what was measured so far is still worth printing
                _log(f"not settled after {settle_timeout:.0f} s: the figures below are partial")
                break
        stop.set()
        sampler.join(5)
        probe.sample()
        cpu_after = _worker_cpu(group)
        db_cpu_after = _database_cpu(postgres_url, db_names)
        figures.update(_report(probe, consumed, expected, cpu_before, cpu_after, db_cpu_before, db_cpu_after))
        figures["settled"] = settled >= SETTLE_SAMPLES
        if not figures["settled"]:  # the count still grew: not the time every fiche became searchable
            figures["searchable"]["seconds_after_import_start"] = None
        figures["load"] = _uptime()
        return figures
    except BaseException:
        if group.log_dir is not None:
            _log(f"the run failed; the last lines of each log follow ({group.log_dir})")
            for log_file in sorted(Path(group.log_dir).glob("*.log")):
                lines = log_file.read_text(errors="replace").splitlines()[-15:]
                _log(f"--- {log_file.name}\n" + "\n".join(lines))
        raise
    finally:
        group.stop_all()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        if probe is not None:
            probe.close()
        if bus is not None:
            bus.close()
        with contextlib.suppress(Exception):
            delete_namespace(stores.broker_url, stores.namespace, consumed, retry_delays)
        stores.drop()
        if keep_logs:
            _log(f"logs kept in {folder / 'logs'}")
            shutil.rmtree(folder / "data", ignore_errors=True)
            for path in folder.glob("*.sqlite3*"):
                path.unlink()
            (folder / "extract.csv").unlink(missing_ok=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _worker_cpu(group) -> dict[str, float]:
    """CPU seconds by worker, its replicas' added up (fiche-worker-2 counts as fiche-worker)."""
    cpu: dict[str, float] = {}
    for name, process in group.processes.items():
        worker = re.sub(r"-\d+$", "", name)
        cpu[worker] = cpu.get(worker, 0.0) + (_cpu_seconds(process.pid) or 0.0)
    return cpu


def _relevant_pending(probe: Probe, consumed: dict[str, list[str]]) -> int:
    """Outbox rows still to publish whose type some service consumes (a refused event nobody consumes, such as one
    kept aside in a full unroutable queue, must not hold the run)."""
    types = sorted({t for ts in consumed.values() for t in ts})
    query = sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL "
                    "AND event_type IN :types").bindparams(sa.bindparam("types", expanding=True))
    total = 0
    for name in probe.producers:
        with probe.engines[name].connect() as connection:
            total += int(connection.execute(query, {"types": types}).scalar_one())
    return total


def _report(probe: Probe, consumed, expected, cpu_before, cpu_after, db_cpu_before, db_cpu_after) -> dict:
    samples = probe.samples
    types = probe.outbox_types()
    relays = {}
    for producer in probe.producers:
        rows = types[producer]
        if not sum(row[0] for row in rows.values()):
            continue
        # Behind when more than two import batches wait: an import commits 500 rows at a time.
        rates = busy_rate(samples, lambda s, p=producer: s.written[p] - s.pending[p],
                          lambda s, p=producer: s.pending[p], 1000)
        rates.update(rows=sum(row[0] for row in rows.values()), published=sum(row[1] for row in rows.values()),
                     parked=sum(row[2] for row in rows.values()))
        worker = f"{producer}-worker"
        if worker in cpu_after:
            rates["worker_cpu_seconds"] = round(cpu_after[worker] - cpu_before.get(worker, 0.0), 1)
        relays[producer] = rates
    consumers = {}
    for name in consumed:
        rates = busy_rate(samples, lambda s, n=name: s.inbox[n], lambda s, n=name: max(s.queued[n], 0), 100)
        rates["expected"] = expected[name] if expected else None
        worker = f"{name}-worker"
        if worker in cpu_after and rates["events"]:
            # The worker's process also runs its relay (and, for fiche, the validity sweep): an upper bound.
            cpu = cpu_after[worker] - cpu_before.get(worker, 0.0)
            rates["worker_cpu_seconds"] = round(cpu, 1)
            rates["worker_cpu_ms_per_event"] = round(1000 * cpu / rates["events"], 2)
        if name in db_cpu_after and rates["events"]:
            cpu = db_cpu_after[name] - db_cpu_before.get(name, 0.0)
            rates["database_cpu_ms_per_event"] = round(1000 * cpu / rates["events"], 2)
        consumers[name] = rates
    final = samples[-1].searchable
    searchable_at = next((s.at for s in samples if s.searchable == final), None) if final is not None else None
    return {
        "relays": relays,
        "consumers": consumers,
        # Events no service consumes (kept aside in the unroutable queue): [rows, sent, parked] by type.
        "unrouted": {producer: {t: row for t, row in found.items() if not any(t in ts for ts in consumed.values())}
                     for producer, found in types.items()},
        "searchable": {"fiches": final, "seconds_after_import_start":
                       round(searchable_at, 1) if searchable_at is not None else None},
        "settled_seconds": round(samples[-1].at, 1),
        "probe_cost_ms": round(1000 * sum(s.cost for s in samples) / len(samples), 1),
        "samples": len(samples),
    }


def _rate(rates: dict) -> str:
    busy = rates["busy_per_second"]
    return (f"{busy:,.0f}/s while work waited ({rates['busy_seconds']:.0f} s)" if busy is not None
            else "never behind (kept up with its input)") + (f", {rates['overall_per_second']:,.0f}/s over its {rates['active_seconds']:.0f} s "
                                    f"of activity" if rates["overall_per_second"] is not None else "")


def print_pipeline(figures: dict) -> None:
    """The figures for people, then the JSON line."""
    plain = figures["plain_with_confirms"]["per_second"]
    _log("")
    _log(f"import: {figures['import']['rows_per_second']:,.0f} rows/s ({figures['import']['seconds']} s, "
         f"{figures['import']['cpu_seconds']} s CPU)")
    for name, rates in figures["relays"].items():
        ratio = f"; {rates['busy_per_second'] / plain:.0%} of the plain loop with confirms" \
            if rates["busy_per_second"] else ""
        _log(f"relay {name}: {rates['published']:,} published, {_rate(rates)}{ratio}")
    for name, rates in figures["consumers"].items():
        cpu = (f"; worker {rates['worker_cpu_ms_per_event']} ms CPU/event" if "worker_cpu_ms_per_event" in rates
               else "") + (f", database {rates['database_cpu_ms_per_event']} ms CPU/event"
                           if "database_cpu_ms_per_event" in rates else "")
        _log(f"consumer {name}: {rates['events']:,} events, {_rate(rates)}{cpu}")
    searchable = figures["searchable"]
    if not figures["settled"]:
        _log(f"NOT SETTLED after {figures['settled_seconds']} s: {searchable['fiches']:,} fiches searchable so far")
    elif searchable["fiches"] is not None:
        _log(f"every fiche searchable ({searchable['fiches']:,}) {searchable['seconds_after_import_start']} s after "
             f"the import started; everything settled after {figures['settled_seconds']} s")
    _log(f"plain kombu loop: {plain:,.0f}/s with confirms"
         f"{'' if figures['plain_with_confirms']['confirms'] else ' (none on this transport)'}, "
         f"{figures['plain_without_confirms']['per_second']:,.0f}/s without ({figures['load']})")
    _log(json.dumps(figures, sort_keys=True))
