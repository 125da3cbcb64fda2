"""The command line every service shares: `python -m <package> web | worker | migrate | health | <its own>`.

A service's `__main__.py` is `sys.exit(run_manifest_cli(MANIFEST))`; the embedded runner (`assmat run`),
docker-compose and the tests all start services through these same commands. Each command asks only for the
settings it uses (services.settings.for_command).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Callable, Mapping

from services import logs
from services.settings import BaseSettings, SettingsError, for_command

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


def migrate(manifest, settings: BaseSettings) -> None:
    """The database to its newest migration, then the bus topology this service needs, before anything runs: its
    queue and bindings exist before the first event it must receive is published (services/BACKBONE.md)."""
    from services.bus import Bus
    from services.db import upgrade

    if manifest.migrations is not None:
        upgrade(settings.database_url, manifest.migrations)
        log.info("database migrated")
    if manifest.has_worker:
        bus = Bus(settings.broker_url, settings.bus_namespace)
        subscribers: dict[str, list[str]] = {}
        for spec in manifest.publishes:
            for consumer in spec.consumers:
                subscribers.setdefault(consumer, []).append(spec.type)
        try:
            bus.declare_topology({manifest.name: manifest.consumed_types} if manifest.consumed_types else {},
                                 settings.retry_delays_ms, subscribers=subscribers,
                                 unconsumed=[spec.type for spec in manifest.publishes if not spec.consumers])
        finally:
            bus.close()
        log.info("bus topology declared", extra={"queue": bus.queue_name(manifest.name),
                                                 "bindings": manifest.consumed_types,
                                                 "subscribers": sorted(subscribers)})


def health(manifest, settings: BaseSettings) -> int:
    """A container's healthcheck for the worker: 0 when a worker of this service beat lately and works."""
    from services.bootstrap import ServiceContainer
    from services.health import worker_check
    from services.manifest import worker_max_age

    container = ServiceContainer.from_settings(settings)
    try:
        worker_check(container.session_factory, manifest.name, worker_max_age(settings))()
    except Exception as error:  # the probe's answer, printed for the operator
        print(f"{manifest.name}: worker not ready: {error}", file=sys.stderr)
        return 1
    finally:
        container.engine.dispose()
    print(f"{manifest.name}: worker ready")
    return 0


def run_manifest_cli(manifest, argv: list[str] | None = None) -> int:
    """`python -m <package> ...` for the service `manifest` declares."""
    from services.manifest import create_app
    from services.worker import run_worker

    parser = argparse.ArgumentParser(prog=f"python -m {manifest.name}", description=manifest.summary)
    sub = parser.add_subparsers(dest="command", required=True)
    web = sub.add_parser("web", help="serve the HTTP API (embedded server; production runs gunicorn)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=None, help="default: the <SERVICE>_PORT setting")
    sub.add_parser("migrate", help="upgrade the database and declare the bus queues this service needs")
    if manifest.has_worker:
        sub.add_parser("worker", help="consume events and relay the outbox")
        sub.add_parser("health", help="exit 0 when a worker of this service is running and healthy")
    for command in manifest.commands:
        sub.add_parser(command, add_help=False)
    args, rest = parser.parse_known_args(argv)

    try:
        with for_command(args.command):
            settings = manifest.load_settings()
    except SettingsError as error:
        print(f"{manifest.name}: {error}", file=sys.stderr)
        return 2
    logs.configure(manifest.name, settings.log_level, settings.log_format)

    if args.command == "web":
        port = args.port or getattr(settings, "port", None) or manifest.default_port
        serve(create_app(manifest, settings), args.host, port)
        return 0
    if args.command == "worker":
        run_worker(manifest, settings)
        return 0
    if args.command == "migrate":
        if manifest.migrations is None and not manifest.has_worker:
            print(f"{manifest.name}: nothing to migrate (no database, no queue)")
            return 0
        migrate(manifest, settings)
        return 0
    if args.command == "health":
        return health(manifest, settings)
    return manifest.commands[args.command](settings, rest) or 0
