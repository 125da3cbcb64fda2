"""`python -m notify bench`: mails a second through notify's senders with 1 and 2 worker processes against one
aiosmtpd server on 127.0.0.1, beside a plain smtplib loop (the ceiling: no database, no claim). Last line: one
JSON object.

    python -m notify bench --mails 400 --database-url postgresql://postgres@127.0.0.1:5432/postgres

The database given is an administrative URL: the bench creates (and drops) a database of its own there. Without
one, a temporary SQLite file (one writer at a time: two workers then mostly wait for each other).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email import policy
from pathlib import Path

import sqlalchemy as sa


class _Counter:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sample_message() -> bytes:
    from notify.mails.domain.messages import checked_sender, compose, email_confirmation
    from notify.mails.domain.rendering import render
    draft = email_confirmation({"email": "marie.dupont@example.fr", "display_name": "Marie Dupont",
                                "confirmation_url": "https://portail.example/activation/confirmer?jeton=x",
                                "expires_at": "2026-12-01T12:00:00+00:00"})
    return compose(uuid.uuid4(), checked_sender("Portail <ne-pas-repondre@assmat.local>"), draft,
                   render(draft.template, draft.context), dt.datetime.now(dt.timezone.utc)).as_bytes(policy=policy.SMTP)


def _smtplib_loop(port: int, count: int, reuse: bool) -> float:
    data = _sample_message()
    started = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", port) if reuse else None
    for _ in range(count):
        if not reuse:
            client = smtplib.SMTP("127.0.0.1", port)
        client.sendmail("ne-pas-repondre@assmat.local", ["marie.dupont@example.fr"], data)
        if not reuse:
            client.quit()
    if reuse:
        client.quit()
    return count / (time.perf_counter() - started)


def _database(admin_url: str | None, tmp: Path, name: str) -> tuple[str, callable]:
    if not admin_url:
        path = tmp / f"{name}.sqlite3"
        return f"sqlite:///{path}", lambda: None
    from sqlalchemy.engine import make_url

    from services.db import normalize_url
    db_name = f"notify_bench_{uuid.uuid4().hex[:8]}_{name}"
    admin = sa.create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{db_name}"')

    def drop():
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.dispose()
    return make_url(admin_url).set(database=db_name).render_as_string(hide_password=False), drop


def _queue(database_url: str, count: int) -> None:
    from notify.adapters.orm import metadata
    from notify.mails.consumers import make_handlers
    from notify.mails.domain.messages import checked_sender
    from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
    from services.db import UnitOfWork, make_engine, make_session_factory

    engine = make_engine(database_url)
    metadata.create_all(engine)
    handler = make_handlers(checked_sender("Portail <ne-pas-repondre@assmat.local>"))[EMAIL_CONFIRMATION_REQUESTED.type]
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        for number in range(count):
            data = {"account_id": str(uuid.uuid4()), "email": f"assmat{number}@example.fr",
                    "display_name": f"Assmat {number}", "confirmation_url": "https://portail.example/c?jeton=x",
                    "expires_at": "2026-12-01T12:00:00+00:00"}
            handler(uow, EMAIL_CONFIRMATION_REQUESTED.build(data["account_id"], data))
        uow.commit()
    engine.dispose()


def _workers(database_url: str, port: int, count: int, workers: int) -> dict:
    from notify.adapters.orm import mails
    from services.db import make_engine

    _queue(database_url, count)
    environ = {**os.environ, "ASSMAT_ENV": "test", "NOTIFY_DATABASE_URL": database_url, "BROKER_URL": "memory://",
               "NOTIFY_MAIL_URL": f"smtp://127.0.0.1:{port}", "NOTIFY_DOMAIN_PACE": "", "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "notify", "mails", "send-due"], env=environ,
                                  stdout=subprocess.DEVNULL) for _ in range(workers)]
    codes = [process.wait() for process in processes]
    elapsed = time.perf_counter() - started
    engine = make_engine(database_url)
    with engine.connect() as connection:
        sent, first, last = connection.execute(sa.select(
            sa.func.count(), sa.func.min(mails.c.sent_at), sa.func.max(mails.c.sent_at))
            .where(mails.c.status == "sent")).one()
    engine.dispose()
    if isinstance(first, str):  # SQLite
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    spread = (last - first).total_seconds() if sent > 1 else 0.0
    return {"workers": workers, "sent": sent, "exit_codes": codes,
            "mails_per_second": round(sent / elapsed, 1),  # process start-up included
            "steady_mails_per_second": round((sent - 1) / spread, 1) if spread else None}


def run(argv: list[str]) -> int:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("the bench needs aiosmtpd: pip install -e 'notify-svc[test]'", file=sys.stderr)
        return 2

    parser = argparse.ArgumentParser(prog="python -m notify bench", description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("NOTIFY_BENCH_DATABASE_URL"),
                        help="administrative PostgreSQL URL (a database is created there); default: SQLite")
    args = parser.parse_args(argv)
    counter = _Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=_free_port())
    controller.start()
    result: dict = {"mails": args.mails, "database": "postgresql" if args.database_url else "sqlite",
                    "cpus": os.cpu_count()}
    try:
        result["smtplib_loop_connection_per_mail"] = round(_smtplib_loop(controller.port, args.mails, False), 1)
        result["smtplib_loop_one_connection"] = round(_smtplib_loop(controller.port, args.mails, True), 1)
        with tempfile.TemporaryDirectory() as tmp:
            for workers in (1, 2):
                url, drop = _database(args.database_url, Path(tmp), f"w{workers}")
                try:
                    result[f"workers_{workers}"] = _workers(url, controller.port, args.mails, workers)
                finally:
                    drop()
                print(f"{workers} worker(s): {result[f'workers_{workers}']}", file=sys.stderr)
    finally:
        controller.stop()
    result["server_received"] = counter.count
    print(json.dumps(result))
    return 0
