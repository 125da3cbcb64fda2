"""`assmat bench`: figures measured on this machine (printed, never asserted)."""
from __future__ import annotations

import tempfile
from pathlib import Path


def main(args) -> int:
    if args.what in ("bus", "all"):
        from services import bench_bus
        with tempfile.TemporaryDirectory() as folder:
            bench_bus.run(args.size or 10_000, Path(folder) / "bench-bus.sqlite3")
    return 0
