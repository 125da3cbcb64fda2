"""`assmat`: run the whole portal on the embedded default, import extracts, make demo data, run benchmarks.

The embedded default needs no server: every service runs in its own processes (web + worker) on its own SQLite
file, events travel through the SQLite bus transport, mail lands in a local sink. Data stays in the data folder
(`./var` by default) from one run to the next.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class ServiceProcessSpec:
    folder: str      # the service's folder in the repository
    package: str     # its Python package, also its settings prefix and queue name
    has_worker: bool = True


SERVICES = (
    ServiceProcessSpec("identity", "identity"),
    ServiceProcessSpec("agrement-svc", "agrement"),
    ServiceProcessSpec("fiche-svc", "fiche"),
    ServiceProcessSpec("geo-svc", "geo"),
    ServiceProcessSpec("notify-svc", "notify"),
    ServiceProcessSpec("gateway", "gateway", has_worker=False),
)


def default_ports(gateway_port: int = 8000, first_service_port: int = 8101) -> dict[str, int]:
    """The gateway's port, and the services' on consecutive ports (identity first)."""
    services = [spec.package for spec in SERVICES if spec.package != "gateway"]
    return {"gateway": gateway_port, **{package: first_service_port + index for index, package in enumerate(services)}}


def embedded_environment(data_dir: Path, ports: dict[str, int] | None = None,
                         base: dict | None = None) -> dict[str, str]:
    """Every variable the services read, for an embedded run rooted at `data_dir` (`ports` by package)."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "local-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    ports = ports or default_ports()
    gateway_port = ports["gateway"]
    env = dict(os.environ if base is None else base)
    env.update({
        "ASSMAT_ENV": "local",
        "LOG_FORMAT": env.get("LOG_FORMAT", "text"),
        "BROKER_URL": f"sqlitebus:///{data_dir / 'bus.sqlite3'}",
        "IDENTITY_JWKS_URL": f"http://127.0.0.1:{ports['identity']}/.well-known/jwks.json",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
        "NOTIFY_MAIL_URL": f"sink://{data_dir / 'mail'}",
        "GATEWAY_SECRET_KEY": secret_file.read_text().strip(),
        "PYTHONUNBUFFERED": "1",
    })
    for spec in SERVICES:
        prefix = spec.package.upper()
        env[f"{prefix}_DATABASE_URL"] = f"sqlite:///{data_dir / (spec.package + '.sqlite3')}"
        env[f"{prefix}_PORT"] = str(ports[spec.package])
        env[f"GATEWAY_{prefix}_URL"] = f"http://127.0.0.1:{ports[spec.package]}"
    return env


class ProcessGroup:
    """Child processes started together and stopped together (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, env: dict[str, str], log_dir: Path | None = None):
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(argv, env=self.env, stdout=output, stderr=subprocess.STDOUT if output else None)
        self.processes[name] = process
        return process

    def stop(self, name: str, kill: bool = False) -> None:
        process = self.processes.pop(name)
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]


def migrate_all(env: dict[str, str]) -> None:
    for spec in SERVICES:
        if spec.package == "gateway":
            continue
        subprocess.run([sys.executable, "-m", spec.package, "migrate"], env=env, check=True)


def start_all(group: ProcessGroup, env: dict[str, str], host: str = "127.0.0.1") -> None:
    for spec in SERVICES:
        port = env[f"{spec.package.upper()}_PORT"]
        group.start(f"{spec.package}-web", [sys.executable, "-m", spec.package, "web", "--host",
                                            "127.0.0.1" if spec.package != "gateway" else host, "--port", port])
        if spec.has_worker:
            group.start(f"{spec.package}-worker", [sys.executable, "-m", spec.package, "worker"])


def wait_ready(env: dict[str, str], timeout: float = 60.0) -> None:
    pending = {spec.package: f"http://127.0.0.1:{env[spec.package.upper() + '_PORT']}/readyz" for spec in SERVICES}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for package, url in list(pending.items()):
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    del pending[package]
            except requests.RequestException:
                pass
        time.sleep(0.3)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")


def cmd_run(args) -> int:
    data_dir = Path(args.data_dir)
    env = embedded_environment(data_dir, default_ports(args.port, args.service_ports_from))
    print(f"Données locales : {data_dir.resolve()}")
    migrate_all(env)
    group = ProcessGroup(env, log_dir=data_dir.resolve() / "logs" if args.quiet else None)
    stopping = False

    def _interrupt(*_):
        nonlocal stopping
        stopping = True

    # Explicit for SIGINT too: a shell that starts us in the background ignores SIGINT, and Ctrl-C must still work.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        start_all(group, env, host=args.host)
        wait_ready(env)
        marker = data_dir.resolve() / ".demo-loaded"
        if not args.no_demo and not marker.exists():
            demo_file = data_dir.resolve() / "demo-extract.csv"
            subprocess.run([sys.executable, "-m", "agrement", "demo-extract", "--out", str(demo_file)], env=env,
                           check=True)
            subprocess.run([sys.executable, "-m", "agrement", "import", str(demo_file), "--quiet"], env=env,
                           check=True)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        url = f"http://{args.host}:{args.port}"
        print(f"\nLe portail est prêt : {url}\n  courriels capturés : {url}/dev/mails\n"
              f"  compte de démonstration : numéro PMI 280001, né(e) le 12/04/1985\nCtrl-C pour arrêter.",
              flush=True)
        while not stopping:
            dead = group.dead()
            if dead:
                print(f"Arrêt : processus terminé de façon inattendue : {', '.join(dead)}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nArrêt des services…", flush=True)
        group.stop_all()
    return 0


def _service_env(args) -> dict[str, str]:
    """The environment a one-off command runs in: the caller's own if it names a database, else embedded."""
    if os.environ.get("AGREMENT_DATABASE_URL"):
        return dict(os.environ)
    return embedded_environment(Path(args.data_dir))


def cmd_import(args) -> int:
    env = _service_env(args)
    if not os.environ.get("AGREMENT_DATABASE_URL"):
        subprocess.run([sys.executable, "-m", "agrement", "migrate"], env=env, check=True)
    argv = [sys.executable, "-m", "agrement", "import", args.file] + (["--quiet"] if args.quiet else [])
    return subprocess.run(argv, env=env).returncode


def cmd_demo_extract(args) -> int:
    argv = [sys.executable, "-m", "agrement", "demo-extract", "--count", str(args.count), "--out", args.out]
    return subprocess.run(argv, env=_service_env(args)).returncode


def cmd_bench(args) -> int:
    from services import benchmarks
    return benchmarks.main(args)


def _dlq_bus(args):
    """The bus `assmat dlq` works on: BROKER_URL/BUS_NAMESPACE from the environment, else the embedded one."""
    from services.bus import Bus
    if os.environ.get("BROKER_URL"):
        return Bus(os.environ["BROKER_URL"], os.environ.get("BUS_NAMESPACE") or "assmat")
    if not (Path(args.data_dir) / "bus.sqlite3").exists():
        print(f"Aucun bus local dans {Path(args.data_dir).resolve()} : lancez d'abord le portail (assmat run), "
              "ou indiquez BROKER_URL.", file=sys.stderr)
        return None
    env = embedded_environment(Path(args.data_dir))
    return Bus(env["BROKER_URL"], env.get("BUS_NAMESPACE") or "assmat")


def cmd_dlq(args) -> int:
    from services import dlq
    bus = _dlq_bus(args)
    if bus is None:
        return 2
    # Until the services declare themselves in manifests, the consuming services are those with a worker.
    services = [spec.package for spec in SERVICES if spec.has_worker]
    try:
        if args.dlq_command == "list":
            # parked_outbox_rows: where services.outbox will add its parked rows to the list.
            letters = dlq.list_dead_letters(bus, services, only=args.service, limit=args.limit,
                                            parked_outbox_rows=None)
            if not letters:
                print("Aucune lettre morte.")
                return 0
            print(f"{'ID':<38} {'SOURCE':<11} {'TYPE':<36} {'SUJET':<24} {'QUAND':<26} ERREUR")
            for letter in letters:
                error = " ".join(letter.error.split())
                print(f"{letter.id:<38} {letter.source:<11} {letter.event_type or '-':<36} "
                      f"{letter.subject or '-':<24} {letter.when or '-':<26} "
                      f"{error[:100] + ('…' if len(error) > 100 else '')}")
            print(f"{len(letters)} lettre(s) morte(s).")
            unroutable = sum(letter.source == "unroutable" for letter in letters)
            if unroutable:
                print(f"Attention : {unroutable} événement(s) publié(s) alors qu'aucune file n'était liée à leur "
                      "type ; rejouez-les une fois leur consommateur déclaré (assmat dlq replay ID).",
                      file=sys.stderr)
            return 0
        if args.dlq_command == "show":
            letter = dlq.show(bus, services, args.id, only=args.service)
            if letter is None:
                print(f"Lettre morte introuvable : {args.id}", file=sys.stderr)
                return 1
            print(json.dumps(letter.to_dict(), ensure_ascii=False, indent=2, default=str))
            return 0
        if not args.ids and not args.all:
            print("Indiquez des identifiants, ou --all.", file=sys.stderr)
            return 2
        settle = dlq.replay if args.dlq_command == "replay" else dlq.purge
        outcome = settle(bus, services, None if args.all else args.ids, only=args.service)
        verb = "rejouée(s)" if args.dlq_command == "replay" else "supprimée(s)"
        print(f"{len(outcome.done)} lettre(s) morte(s) {verb}.")
        for letter_id, reason in outcome.failed.items():
            print(f"Refusée par le broker : {letter_id} ({reason})", file=sys.stderr)
        for letter_id in outcome.missing:
            print(f"Lettre morte introuvable : {letter_id}", file=sys.stderr)
        return 1 if outcome.failed or outcome.missing else 0
    finally:
        bus.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="assmat", description="Portail assmat : outils de développement")
    parser.add_argument("--data-dir", default=os.environ.get("ASSMAT_DATA_DIR", "var"),
                        help="dossier des données locales (défaut : ./var)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="démarre tout le portail en local (SQLite, bus local, courriels capturés)")
    run.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    run.add_argument("--service-ports-from", type=int, default=8101,
                     help="premier port des services internes (identity, puis les suivants ; défaut : 8101)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--no-demo", action="store_true", help="ne pas charger les données de démonstration")
    run.add_argument("--quiet", action="store_true", help="journaux dans <data-dir>/logs au lieu du terminal")
    run.set_defaults(func=cmd_run)
    imp = sub.add_parser("import", help="importe un extrait d'agréments de la PMI (CSV)")
    imp.add_argument("file")
    imp.add_argument("--quiet", action="store_true")
    imp.set_defaults(func=cmd_import)
    demo = sub.add_parser("demo-extract", help="écrit un extrait de démonstration (Eure-et-Loir)")
    demo.add_argument("--count", type=int, default=300)
    demo.add_argument("--out", default="-")
    demo.set_defaults(func=cmd_demo_extract)
    bench = sub.add_parser("bench", help="mesures de performance (affiche des chiffres)")
    bench.add_argument("what", choices=["bus", "import", "search", "all"], nargs="?", default="all")
    bench.add_argument("--size", type=int, default=0, help="taille (0 : valeur par défaut de chaque mesure)")
    bench.add_argument("--broker-url", help="bus : mesure aussi la publication sur ce RabbitMQ (amqp://...)")
    bench.set_defaults(func=cmd_bench)
    dead = sub.add_parser("dlq", help="lettres mortes : événements mis de côté par le bus (liste, détail, rejeu, "
                                      "suppression)")
    dead_sub = dead.add_subparsers(dest="dlq_command", required=True)
    sources = [spec.package for spec in SERVICES if spec.has_worker] + ["unroutable"]
    for name, help_text in (("list", "liste les lettres mortes, les plus anciennes d'abord"),
                            ("show", "affiche une lettre morte entière"),
                            ("replay", "renvoie des lettres mortes à leur service (ou, non routées, à l'échange)"),
                            ("purge", "supprime des lettres mortes")):
        command = dead_sub.add_parser(name, help=help_text)
        command.add_argument("--service", choices=sources, help="une seule source (un service, ou unroutable)")
        if name == "list":
            command.add_argument("--limit", type=int, default=1000, help="au plus N par source (défaut : 1000)")
        elif name == "show":
            command.add_argument("id")
        else:
            command.add_argument("ids", nargs="*", metavar="ID")
            command.add_argument("--all", action="store_true", help="toutes (de la source choisie)")
    dead.set_defaults(func=cmd_dlq)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
