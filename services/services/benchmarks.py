"""`assmat bench`: figures measured on this machine (printed, never asserted).

- bus: the embedded SQLite transport, one publisher process then two consumer processes; with
  `--broker-url amqp://...`, publish_many's pipelined confirms on that RabbitMQ beside a plain kombu loop;
- import: agrement-svc importing N demo rows into SQLite, then the same file again;
- search: fiche-svc's search query over N synthetic fiches (national scale: 309,400).
Service benchmarks run through `python -m <package> bench`, since the kernel never imports a service.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_SIZES = {"bus": 10_000, "import": 20_000, "search": 309_400}


def _service_bench(package: str, size: int) -> None:
    env = {**os.environ, "ASSMAT_ENV": "local", "BROKER_URL": "sqlitebus:///tmp/unused-bench-bus.sqlite3"}
    subprocess.run([sys.executable, "-m", package, "bench", str(size)], env=env, check=True)


def main(args) -> int:
    wanted = ["bus", "import", "search"] if args.what == "all" else [args.what]
    for what in wanted:
        size = args.size or DEFAULT_SIZES[what]
        print(f"== {what} ({size:,} items)", flush=True)
        if what == "bus":
            from services import bench_bus
            with tempfile.TemporaryDirectory() as folder:
                bench_bus.run(size, Path(folder) / "bench-bus.sqlite3")
            if getattr(args, "broker_url", None):
                bench_bus.run_amqp(args.broker_url, size)
        elif what == "import":
            _service_bench("agrement", size)
        else:
            _service_bench("fiche", size)
    return 0
