"""The command line every service shares: `python -m <package> web | worker | migrate | <extra commands>`.

A service's `__main__.py` calls `run_service_cli(...)` with its own factories; the embedded runner
(`assmat run`), docker-compose and the tests all start services through these same commands.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Callable, Mapping

from services import logs
from services.settings import BaseSettings, SettingsError

log = logging.getLogger("services.runtime")


def _stop_on_sigterm(*_):
    raise KeyboardInterrupt


def serve(app, host: str, port: int) -> None:
    """The embedded web server (threaded werkzeug); production uses gunicorn on the same app factory."""
    from werkzeug.serving import make_server
    server = make_server(host, port, app, threaded=True)
    log.info("listening", extra={"url": f"http://{host}:{port}"})
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run_service_cli(name: str, *, load_settings: Callable[[], BaseSettings], create_app: Callable,
                    run_worker: Callable[[BaseSettings], None] | None, migrations: str | None,
                    default_port: int, commands: Mapping[str, Callable[[BaseSettings, list[str]], int]] | None = None,
                    argv: list[str] | None = None) -> int:
    commands = dict(commands or {})
    parser = argparse.ArgumentParser(prog=f"python -m {name}")
    sub = parser.add_subparsers(dest="command", required=True)
    web = sub.add_parser("web", help="serve the HTTP API (embedded server; production runs gunicorn)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=default_port)
    if run_worker is not None:
        sub.add_parser("worker", help="consume events and relay the outbox")
    if migrations is not None:
        sub.add_parser("migrate", help="upgrade the database to the newest migration")
    for command in commands:
        sub.add_parser(command, add_help=False)
    args, rest = parser.parse_known_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    logs.configure(name, settings.log_level, settings.log_format)

    if args.command == "web":
        serve(create_app(settings), args.host, args.port)
        return 0
    if args.command == "worker":
        run_worker(settings)
        return 0
    if args.command == "migrate":
        from services.db import upgrade
        upgrade(settings.database_url, migrations)
        log.info("database migrated")
        return 0
    return commands[args.command](settings, rest) or 0
