"""`python -m identity bench [--logins N] [--threads 1 2]`: logins a second through identity's API, beside plain
argon2id verification with the same parameters (the ceiling: a login is one verification plus the gates, the audit
row, the refresh token and the signed access token).

A throwaway SQLite database (or `--database-url`, e.g. a PostgreSQL database of your own) gets `--accounts` active
assmat accounts; each login goes through the WSGI app in process (Flask's test client: no HTTP server in the
figure), round robin over the accounts, from 1 then 2 threads (argon2 releases the GIL, so two threads can use two
cores). Figures are printed, never asserted; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import threading
import time
import uuid

PASSWORD = "un mot de passe de banc d'essai"


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def _in_threads(threads: int, total: int, work) -> float:
    """Run `work(i)` for i in range(total) spread over `threads` threads; the seconds it took."""
    def worker(start: int) -> None:
        for i in range(start, total, threads):
            work(i)
    pool = [threading.Thread(target=worker, args=(start,)) for start in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - began


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity bench",
                                     description="logins a second beside plain argon2id verification")
    parser.add_argument("--logins", type=int, default=200, help="logins (and verifications) per measure")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default="", help="default: a throwaway SQLite file")
    args = parser.parse_args(argv)
    if args.logins < 1 or args.accounts < 1 or any(t < 1 for t in args.threads):
        parser.error("counts must be positive")

    import logging

    import sqlalchemy as sa
    from argon2 import PasswordHasher

    logging.disable(logging.INFO)  # one request log line per login would drown the figures

    from identity import create_app
    from identity.accounts.domain import credentials
    from identity.adapters.orm import accounts, metadata
    from identity.settings import Settings

    folder = tempfile.mkdtemp(prefix="identity-bench-")
    database_url = args.database_url or f"sqlite:///{folder}/identity.sqlite3"
    settings = Settings(environment="test", database_url=database_url)
    app = create_app(settings)
    container = app.extensions["identity"]
    metadata.create_all(container.engine)
    password_hash = credentials.hash_password(PASSWORD)
    now = dt.datetime.now(dt.timezone.utc)
    run_tag = uuid.uuid4().hex[:4]
    numbers = [f"{900000 + i:06d}" for i in range(args.accounts)]
    with container.engine.begin() as connection:
        connection.execute(accounts.delete().where(accounts.c.pmi_number.in_(numbers)))
        connection.execute(accounts.insert(), [
            {"id": str(uuid.uuid4()), "role": "assmat", "pmi_number": number, "email": f"b{run_tag}{number}@example.org",
             "password_hash": password_hash, "display_name": f"Banc {number}", "status": "active",
             "created_at": now, "activated_at": now} for number in numbers])

    hasher: PasswordHasher = credentials._hasher
    figures: dict = {"argon2": {"time_cost": hasher.time_cost, "memory_kib": hasher.memory_cost,
                                "parallelism": hasher.parallelism},
                     "logins": args.logins, "accounts": args.accounts, "cpus": os.cpu_count(),
                     "load": os.getloadavg()[0], "database": sa.engine.make_url(database_url).get_backend_name()}
    client_local = threading.local()
    failures = []

    def login(i: int) -> None:
        client = getattr(client_local, "client", None)
        if client is None:
            client = client_local.client = app.test_client()
        response = client.post("/api/sessions", json={"login": numbers[i % len(numbers)], "password": PASSWORD})
        if response.status_code != 200:
            failures.append(response.status_code)

    for threads in args.threads:
        seconds = _in_threads(threads, args.logins, lambda i: hasher.verify(password_hash, PASSWORD))
        figures[f"argon2_verify_per_s_{threads}t"] = _rate(args.logins, seconds)
        seconds = _in_threads(threads, args.logins, login)
        figures[f"logins_per_s_{threads}t"] = _rate(args.logins, seconds)
        ratio = figures[f"logins_per_s_{threads}t"] / max(figures[f"argon2_verify_per_s_{threads}t"], 0.001)
        figures[f"login_vs_argon2_{threads}t"] = round(ratio, 3)
        print(f"{threads} thread(s): argon2id verify {figures[f'argon2_verify_per_s_{threads}t']}/s, "
              f"identity login {figures[f'logins_per_s_{threads}t']}/s ({ratio:.0%} of the ceiling)", flush=True)
    figures["failed_logins"] = len(failures)
    container.engine.dispose()
    print(json.dumps(figures))
    return 0 if not failures else 1
