"""`assmat bench`: figures measured on this machine (printed, never asserted).

- bus: the embedded SQLite transport, one publisher process then two consumer processes; with
  `--broker-url amqp://...`, publish_many's pipelined confirms on that RabbitMQ beside a plain kombu loop;
- import: agrement-svc importing N demo rows into SQLite, then the same file again;
- search: fiche-svc's search query over N synthetic fiches (national scale: 309,400);
- sqlite: N reads through a service's session factory while another process keeps writing, each write
  transaction held 50 ms (as a worker's can be): the embedded default's reads must not wait for writers;
- relay: an outbox of N events published by the outbox relay, against a plain kombu publish loop (bench_pipeline);
- pipeline: the whole portal's workers on fresh databases, an N-row extract imported, until every fiche is
  searchable (bench_pipeline). Both take `--postgres-url` and `--broker-url`, else run on the embedded default.
Service benchmarks run through `python -m <package> bench`, since the kernel never imports a service.
"""
from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SIZES = {"bus": 10_000, "import": 20_000, "search": 309_400, "sqlite": 400, "relay": 20_000,
                 "pipeline": 20_000}


def _service_bench(package: str, size: int) -> None:
    env = {**os.environ, "ASSMAT_ENV": "local", "BROKER_URL": "sqlitebus:///tmp/unused-bench-bus.sqlite3"}
    subprocess.run([sys.executable, "-m", package, "bench", str(size)], env=env, check=True)


def _sqlite_items():
    import sqlalchemy as sa
    return sa.Table("items", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("payload", sa.String(200), nullable=False))


def _sqlite_writer(url: str, hold: float, stop, commits) -> None:
    from services.db import UnitOfWork, make_engine, make_session_factory
    items, session_factory = _sqlite_items(), make_session_factory(make_engine(url))
    while not stop.is_set():
        with UnitOfWork(session_factory) as uow:
            uow.session.execute(items.insert(), [{"payload": "x" * 200} for _ in range(20)])
            time.sleep(hold)  # work done inside the transaction, such as a relay publishing
            uow.commit()
        with commits.get_lock():
            commits.value += 1
        time.sleep(0.005)


def sqlite_read_latency(reads: int, path: Path, hold: float = 0.05, every: float = 0.02) -> dict[str, float]:
    """Time `reads` reads (a count and a row by id, one session each) while another process writes."""
    import sqlalchemy as sa

    from services.db import make_engine, make_session_factory
    url = f"sqlite:///{path}"
    engine, items = make_engine(url), _sqlite_items()
    items.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(items.insert(), [{"payload": "x" * 200} for _ in range(1000)])
    session_factory = make_session_factory(engine)
    stop, commits = multiprocessing.Event(), multiprocessing.Value("i", 0)
    writer = multiprocessing.Process(target=_sqlite_writer, args=(url, hold, stop, commits), daemon=True)
    writer.start()
    while commits.value == 0 and writer.is_alive():
        time.sleep(0.01)
    latencies = []
    try:
        for _ in range(reads):
            started = time.perf_counter()
            with session_factory() as session:
                session.execute(sa.select(sa.func.count()).select_from(items)).scalar_one()
                session.execute(sa.select(items).where(items.c.id == 500)).first()
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(every)
    finally:
        stop.set()
        writer.join(30)
        engine.dispose()
    latencies.sort()
    figures = {"p50_ms": statistics.median(latencies), "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
               "max_ms": latencies[-1], "writes": commits.value}
    print(f"{reads} reads while another process committed {figures['writes']} write transactions held "
          f"{hold * 1000:.0f} ms each: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
          f"max {figures['max_ms']:.1f} ms", flush=True)
    return figures


def main(args) -> int:
    wanted = ["bus", "import", "search", "sqlite", "relay"] if args.what == "all" else [args.what]
    for what in wanted:
        size = args.size or DEFAULT_SIZES[what]
        print(f"== {what} ({size:,} items)", flush=True)
        if what in ("relay", "pipeline"):
            import json

            from services import bench_pipeline
            servers = {"postgres_url": getattr(args, "postgres_url", None),
                       "broker_url": getattr(args, "broker_url", None)}
            if what == "relay":
                print(json.dumps(bench_pipeline.run_relay(size, **servers), sort_keys=True), flush=True)
            else:
                bench_pipeline.print_pipeline(bench_pipeline.run_pipeline(
                    size, **servers, keep_logs=getattr(args, "keep_logs", False),
                    profile_dir=getattr(args, "profile", None), replicas=_replicas(getattr(args, "replicas", None)),
                    settle_timeout=7200.0 if getattr(args, "timeout", None) is None else args.timeout))
        elif what == "bus":
            from services import bench_bus
            with tempfile.TemporaryDirectory() as folder:
                bench_bus.run(size, Path(folder) / "bench-bus.sqlite3")
            if getattr(args, "broker_url", None):
                bench_bus.run_amqp(args.broker_url, size)
        elif what == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                sqlite_read_latency(size, Path(folder) / "bench-reads.sqlite3")
        elif what == "import":
            _service_bench("agrement", size)
        else:
            _service_bench("fiche", size)
    return 0


def _replicas(values: list[str] | None) -> dict[str, int]:
    """`--replicas fiche=2`: how many processes of a worker the pipeline runs."""
    counts: dict[str, int] = {}
    for value in values or []:
        name, _, count = value.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--replicas attend service=nombre (ex. fiche=2), pas {value!r}")
        counts[name] = int(count)
    return counts
