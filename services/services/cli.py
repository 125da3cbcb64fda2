"""`assmat`: run the whole portal on the embedded default, import extracts, make demo data, run benchmarks.

The embedded default needs no server: every service runs in its own processes (web + worker) on its own SQLite
file, events travel through the SQLite bus transport, mail lands in a local sink. Data stays in the data folder
(`./var` by default) from one run to the next.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests


def portal_services() -> list:
    """Every installed service's manifest, in start order: the services behind the gateway by their default port
    (identity first), then the gateway. Read from the manifests, so a new service needs no edit here."""
    from services.manifest import discover

    manifests = discover().values()
    return sorted(manifests, key=lambda m: (not m.has_worker and m.migrations is None, m.default_port))


# identity's development FranceConnect provider (identity/franceconnect/dev_provider), started by local runs only:
# the kernel names it by its module and port, it never imports it.
FRANCECONNECT_DEV = "franceconnect-dev"
FRANCECONNECT_DEV_MODULE = "identity.franceconnect.dev_provider"
FRANCECONNECT_DEV_CLIENT_ID = "portail-assmat-local"


def default_ports(gateway_port: int = 8000, first_service_port: int = 8101) -> dict[str, int]:
    """The gateway's port, the services' on consecutive ports (identity first), then the development FranceConnect
    provider's (8106 by default)."""
    services = [manifest.name for manifest in portal_services() if manifest.name != "gateway"]
    ports = {"gateway": gateway_port, **{package: first_service_port + index
                                          for index, package in enumerate(services)}}
    ports[FRANCECONNECT_DEV] = first_service_port + len(services)
    return ports


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
        # The demo extract's circonscriptions, so the alerts to them show in the local sink.
        "NOTIFY_CIRCONSCRIPTION_ADDRESSES": env.get("NOTIFY_CIRCONSCRIPTION_ADDRESSES") or ";".join(
            f"{name}=pmi.{slug}@cd28.example" for name, slug in (
                ("Chartres", "chartres"), ("Dreux", "dreux"), ("Châteaudun", "chateaudun"),
                ("Nogent-le-Rotrou", "nogent-le-rotrou"))),
        "GATEWAY_SECRET_KEY": secret_file.read_text().strip(),
        # The browser sessions, server-side: a SQLite file of the run (Redis in production).
        "GATEWAY_STORE_URL": f"sqlite:///{data_dir / 'gateway-sessions.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    })
    if FRANCECONNECT_DEV in ports:
        # Local runs sign in with FranceConnect against the development provider (never a real FranceConnect).
        env.update({
            "FRANCECONNECT_ISSUER": f"http://127.0.0.1:{ports[FRANCECONNECT_DEV]}",
            "FRANCECONNECT_DEV_PORT": str(ports[FRANCECONNECT_DEV]),
            "FRANCECONNECT_CLIENT_ID": FRANCECONNECT_DEV_CLIENT_ID,
            "FRANCECONNECT_CLIENT_SECRET": hashlib.sha256(
                (secret_file.read_text().strip() + ":franceconnect-dev").encode()).hexdigest(),
            "GATEWAY_FRANCECONNECT_ENABLED": "true",
        })
    for manifest in portal_services():
        prefix = manifest.name.upper()
        env[f"{prefix}_PORT"] = str(ports[manifest.name])
        if manifest.migrations is not None:
            env[f"{prefix}_DATABASE_URL"] = f"sqlite:///{data_dir / (manifest.name + '.sqlite3')}"
        if manifest.name != "gateway":
            env[f"GATEWAY_{prefix}_URL"] = f"http://127.0.0.1:{ports[manifest.name]}"
    return env


def stop_processes(processes, grace_seconds: float) -> None:
    """SIGTERM every process still running, give them `grace_seconds` in all to stop, then SIGKILL the rest."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        stop_processes(self.processes.values(), grace_seconds=10)
        self.processes.clear()

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]


def migrate_all(env: dict[str, str]) -> None:
    for manifest in portal_services():
        if manifest.migrations is not None or manifest.has_worker:
            subprocess.run([sys.executable, "-m", manifest.name, "migrate"], env=env, check=True)


def start_all(group: ProcessGroup, env: dict[str, str], host: str = "127.0.0.1") -> None:
    for manifest in portal_services():
        port = env[f"{manifest.name.upper()}_PORT"]
        group.start(f"{manifest.name}-web", [sys.executable, "-m", manifest.name, "web", "--host",
                                             "127.0.0.1" if manifest.name != "gateway" else host, "--port", port])
        if manifest.has_worker:
            group.start(f"{manifest.name}-worker", [sys.executable, "-m", manifest.name, "worker"])
    if env.get("FRANCECONNECT_DEV_PORT") and env.get("ASSMAT_ENV") in ("local", "test"):
        group.start(FRANCECONNECT_DEV, [sys.executable, "-m", FRANCECONNECT_DEV_MODULE, "--port",
                                        env["FRANCECONNECT_DEV_PORT"]])


# What a service's /readyz names its checks, for people: (name, feminine).
_CHECK_NAMES = {"database": ("base", True), "broker": ("bus", False), "worker": ("worker", False)}


@dataclass(frozen=True)
class Readiness:
    """One answer of a service's /readyz: `summary` for people ("base prête, bus en attente"), `detail` as it came."""
    ready: bool
    summary: str
    detail: str


def describe_checks(checks: dict) -> str:
    """`{"database": "ok", "broker": "failed: …"}` as "base prête, bus en attente"; beyond three checks (the
    gateway's five services) only those that wait are named."""
    parts, waiting = [], []
    for name, value in checks.items():
        label, feminine = _CHECK_NAMES.get(name, (name, False))
        parts.append(f"{label} {'prête' if feminine else 'prêt'}" if value == "ok" else f"{label} en attente")
        if value != "ok":
            waiting.append(label)
    if len(parts) <= 3 or not waiting:
        return ", ".join(parts) or "aucune vérification"
    others = len(parts) - len(waiting)
    plural = "s" if others > 1 else ""
    return f"{', '.join(waiting)} en attente" + (f" ({others} autre{plural} prêt{plural})" if others else "")


def probe_readiness(url: str, timeout: float = 5.0) -> Readiness:
    try:
        response = requests.get(url, timeout=timeout)
    except requests.ConnectionError:
        return Readiness(False, "ne répond pas encore", f"pas de connexion à {url}")
    except requests.Timeout:
        return Readiness(False, f"ne répond pas en {timeout:.0f} s", f"délai dépassé pour {url}")
    except requests.RequestException as error:
        return Readiness(False, "ne répond pas correctement", f"{type(error).__name__} : {error}")
    try:
        body = response.json()
    except ValueError:
        body = None
    checks = body.get("checks") if isinstance(body, dict) else None
    detail = f"HTTP {response.status_code} {response.text.strip()[:500]}"
    if response.status_code == 200:
        return Readiness(True, "prêt", detail)
    summary = describe_checks(checks) if isinstance(checks, dict) else f"répond HTTP {response.status_code}"
    return Readiness(False, summary, detail)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class ChildActivity:
    """Whether the processes of some services are working: their log files grew (`--quiet`), or they used at least
    `min_cpu_share` of a core since the last look (Linux). A process that only polls (a worker waiting for a broker,
    a web server idle) stays far below that share."""

    def __init__(self, group: "ProcessGroup", min_cpu_share: float = 0.2, clock=time.monotonic):
        self.group, self.min_cpu_share, self.clock = group, min_cpu_share, clock
        self._cpu: dict[str, float] = {}
        self._logged: dict[str, int] = {}
        self._at = clock()

    def __call__(self, packages) -> bool:
        now, cpu_used, logged = self.clock(), 0.0, False
        for name, process in self.group.processes.items():
            if name.rsplit("-", 1)[0] not in packages:
                continue
            cpu = _cpu_seconds(process.pid)
            if cpu is not None:
                cpu_used += max(0.0, cpu - self._cpu.get(name, cpu))
                self._cpu[name] = cpu
            if self.group.log_dir is not None:
                try:
                    size = (self.group.log_dir / f"{name}.log").stat().st_size
                except OSError:
                    size = 0
                logged = logged or size > self._logged.get(name, size)
                self._logged[name] = size
        elapsed, self._at = now - self._at, now
        return logged or (cpu_used > 0 and cpu_used >= self.min_cpu_share * elapsed)


class StartupFailed(RuntimeError):
    """The portal did not become ready; the message, in French, says which service and what it answered."""


def wait_ready(env: dict[str, str], timeout: float = 300.0, *, stall: float = 60.0,
               group: ProcessGroup | None = None, say=None, every: float = 5.0, interval: float = 0.5,
               probe=probe_readiness, activity=None, clock=time.monotonic, sleep=time.sleep) -> None:
    """Wait until every service's /readyz says ready, as long as start-up makes progress.

    Progress is a service's readiness answer changing (it starts answering, a check passes, it becomes ready) or,
    with `group`, its processes working (`ChildActivity`). Fails with `StartupFailed` after `stall` seconds without
    progress, after `timeout` seconds in any case, or as soon as a process of `group` has ended. Every `every`
    seconds `say` (print by default) tells which services are not ready yet and what their /readyz answers."""
    say = say or (lambda line: print(line, flush=True))
    if activity is None and group is not None:
        activity = ChildActivity(group, clock=clock)
    urls = {manifest.name: f"http://127.0.0.1:{env[manifest.name.upper() + '_PORT']}/readyz"
            for manifest in portal_services()}
    answers: dict[str, Readiness] = {package: Readiness(False, "pas encore interrogé", "") for package in urls}
    pending = set(urls)
    started = last_progress = clock()
    next_report = started + every

    def waiting_for() -> str:
        return " ; ".join(f"{package} : {answers[package].summary}" for package in urls if package in pending)

    def failure(reason: str) -> StartupFailed:
        lines = [f"Le portail n'a pas démarré : {reason}."]
        for package in (package for package in urls if package in pending):
            answer = answers[package]
            lines.append(f"  {package} : {answer.summary}" + (f" (dernière réponse de /readyz : {answer.detail})"
                                                             if answer.detail else ""))
        if group is not None and group.log_dir is not None:
            lines.append(f"Journaux des services : {group.log_dir}")
        return StartupFailed("\n".join(lines))

    def check_processes() -> None:
        dead = group.dead() if group is not None else []
        if dead:
            codes = ", ".join(f"{name} (code {group.processes[name].returncode})" for name in dead)
            raise failure(f"processus terminé pendant le démarrage : {codes}")

    pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="readyz")
    try:
        while True:
            check_processes()
            asked = {package: pool.submit(probe, urls[package]) for package in sorted(pending)}
            while futures.wait(asked.values(), timeout=interval).not_done:
                check_processes()  # a slow probe must not delay noticing a process that died
            for package, future in asked.items():
                answer = future.result()
                if (answer.ready, answer.summary) != (answers[package].ready, answers[package].summary):
                    last_progress = clock()
                answers[package] = answer
                if answer.ready:
                    pending.discard(package)
            if not pending:
                return
            if activity is not None and activity(pending):
                last_progress = clock()
            now = clock()
            if now - started >= timeout:
                raise failure(f"pas prêt après {now - started:.0f} s (limite)")
            if now - last_progress >= stall:
                raise failure(f"aucun progrès depuis {now - last_progress:.0f} s "
                              f"(démarrage commencé il y a {now - started:.0f} s)")
            if now >= next_report:
                say(f"Démarrage ({now - started:.0f} s), {len(urls) - len(pending)} services prêts sur {len(urls)} ; "
                    f"en attente : {waiting_for()}")
                next_report = now + every
            sleep(interval)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def cmd_run(args) -> int:
    data_dir = Path(args.data_dir)
    env = embedded_environment(data_dir, default_ports(args.port, args.service_ports_from))
    print(f"Données locales : {data_dir.resolve()}")
    migrate_all(env)
    group = ProcessGroup(env, log_dir=data_dir.resolve() / "logs" if args.quiet else None)
    stopping = False

    def _interrupt(*_):
        nonlocal stopping
        if not stopping:  # the first signal also ends a start-up wait; later ones must not cut the stop short
            stopping = True
            raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell that starts us in the background ignores SIGINT, and Ctrl-C must still work.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    try:
        print("Démarrage des services…", flush=True)
        start_all(group, env, host=args.host)
        wait_ready(env, group=group)
        marker = data_dir.resolve() / ".demo-loaded"
        if not args.no_demo and not marker.exists():
            demo_file = data_dir.resolve() / "demo-extract.csv"
            subprocess.run([sys.executable, "-m", "agrement", "demo-extract", "--out", str(demo_file)], env=env,
                           check=True)
            subprocess.run([sys.executable, "-m", "agrement", "import", str(demo_file), "--quiet"], env=env,
                           check=True)
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        # The demo MAMs and RPEs (their accounts: first password through "mot de passe oublié"); a marker of
        # their own, so that a ./var made before structures existed gets them too.
        structures_marker = data_dir.resolve() / ".demo-structures-loaded"
        if not args.no_demo and not structures_marker.exists():
            structures_file = data_dir.resolve() / "demo-structures.csv"
            subprocess.run([sys.executable, "-m", "agrement", "demo-structures", "--out", str(structures_file)],
                           env=env, check=True)
            subprocess.run([sys.executable, "-m", "agrement", "import-structures", str(structures_file)], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            structures_marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        url = f"http://{args.host}:{args.port}"
        print(f"\nLe portail est prêt : {url}\n  courriels capturés : {url}/dev/mails\n"
              f"  compte de démonstration : numéro PMI 280001, né(e) le 12/04/1985\n"
              f"  MAM de démonstration : mam28-01@example.org (premier mot de passe par « mot de passe oublié »)\n"
              f"Ctrl-C pour arrêter.",
              flush=True)
        while not stopping:
            dead = group.dead()
            if dead:
                print(f"Arrêt : processus terminé de façon inattendue : {', '.join(dead)}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except StartupFailed as failure:
        print(failure, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        stopping = True
        print("\nArrêt des services…", flush=True)
        group.stop_all()
    return 0


def _uses_embedded_portal() -> bool:
    """A one-off command works on the embedded portal (./var) only in a local run that names no database: with
    ASSMAT_ENV=production and no AGREMENT_DATABASE_URL, it must refuse (the service says which variable is
    missing), never import into a SQLite file nobody reads. (`assmat` is the local tool: unlike a service process,
    it takes a missing ASSMAT_ENV for a local run; `test` is the test harness's local run.)"""
    from services.settings import LOCAL_ENVIRONMENTS

    return (os.environ.get("ASSMAT_ENV") or "local") in LOCAL_ENVIRONMENTS and not os.environ.get(
        "AGREMENT_DATABASE_URL")


def _service_env(args) -> dict[str, str]:
    """The environment a one-off command runs in: the embedded portal's, or the caller's own."""
    return embedded_environment(Path(args.data_dir)) if _uses_embedded_portal() else dict(os.environ)


def cmd_import(args) -> int:
    env = _service_env(args)
    if _uses_embedded_portal():
        subprocess.run([sys.executable, "-m", "agrement", "migrate"], env=env, check=True)
    argv = [sys.executable, "-m", "agrement", "import", args.file] + (["--quiet"] if args.quiet else [])
    return subprocess.run(argv, env=env).returncode


def cmd_demo_extract(args) -> int:
    argv = [sys.executable, "-m", "agrement", "demo-extract", "--count", str(args.count), "--out", args.out]
    return subprocess.run(argv, env=_service_env(args)).returncode


def cmd_settings(args) -> int:
    """Print every setting each process reads (deploy/SETTINGS.md is this output)."""
    from services.settings_doc import render
    sys.stdout.write(render(portal_services()))
    return 0


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


def _outbox_relays(args) -> dict:
    """Each service's outbox, for the rows the broker kept refusing (parked): its database named in the
    environment, else the embedded portal's file when it exists."""
    from services.db import make_engine, make_session_factory
    from services.outbox import OutboxRelay

    embedded = embedded_environment(Path(args.data_dir)) if _uses_embedded_portal() else {}
    relays = {}
    for manifest in portal_services():
        if manifest.migrations is None:
            continue
        variable = f"{manifest.name.upper()}_DATABASE_URL"
        url = os.environ.get(variable) or embedded.get(variable)
        if not url or (url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()):
            continue
        relays[manifest.name] = OutboxRelay(make_session_factory(make_engine(url)), bus=None)
    return relays


def _parked(name: str, relay) -> list:
    """A service's parked rows; none (said on stderr) when its database cannot be read, e.g. not migrated yet."""
    import sqlalchemy.exc

    try:
        return relay.parked()
    except sqlalchemy.exc.SQLAlchemyError as error:
        print(f"{name} : outbox illisible ({type(error).__name__}), ignoré ; base migrée ?", file=sys.stderr)
        return []


def _parked_letters(relays: dict) -> list:
    from services.dlq import DeadLetter

    letters = []
    for name, relay in relays.items():
        for row in _parked(name, relay):
            letters.append(DeadLetter(
                id=row.event_id, source=f"outbox:{name}", queue=f"{name} outbox", event_type=row.event_type,
                subject=row.subject, error=f"refused {row.attempts} times by the broker: {row.last_error or ''}",
                when=row.parked_at.isoformat(), envelope=json.loads(row.payload)))
    return letters


def cmd_dlq(args) -> int:
    from services import dlq
    bus = _dlq_bus(args)
    if bus is None:
        return 2
    services = [manifest.name for manifest in portal_services() if manifest.consumed_types]
    relays = {} if args.service and args.service != "outbox" else _outbox_relays(args)
    bus_only = None if args.service == "outbox" else args.service
    try:
        if args.dlq_command == "list":
            letters = [] if args.service == "outbox" else dlq.list_dead_letters(
                bus, services, only=bus_only, limit=args.limit)
            letters += _parked_letters(relays)
            if not letters:
                print("Aucune lettre morte.")
                return 0
            print(f"{'ID':<38} {'SOURCE':<15} {'TYPE':<36} {'SUJET':<24} {'QUAND':<26} ERREUR")
            for letter in letters:
                error = " ".join(letter.error.split())
                print(f"{letter.id:<38} {letter.source:<15} {letter.event_type or '-':<36} "
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
            letter = None if args.service == "outbox" else dlq.show(bus, services, args.id, only=bus_only)
            letter = letter or next((parked for parked in _parked_letters(relays) if parked.id == args.id), None)
            if letter is None:
                print(f"Lettre morte introuvable : {args.id}", file=sys.stderr)
                return 1
            print(json.dumps(letter.to_dict(), ensure_ascii=False, indent=2, default=str))
            return 0
        if not args.ids and not args.all:
            print("Indiquez des identifiants, ou --all.", file=sys.stderr)
            return 2
        wanted = None if args.all else args.ids
        outcome = dlq.Outcome()
        if args.service != "outbox":
            settle = dlq.replay if args.dlq_command == "replay" else dlq.purge
            outcome = settle(bus, services, wanted, only=bus_only)
        # Parked outbox rows: a replay puts them back in their relay's queue; a purge never deletes an event a
        # service recorded (it stays parked, for whoever must decide).
        if args.dlq_command == "replay":
            for name, relay in relays.items():
                parked_ids = {row.event_id for row in _parked(name, relay)}
                chosen = parked_ids if wanted is None else parked_ids & set(wanted)
                if chosen:
                    relay.unpark(sorted(chosen))
                    outcome.done += sorted(chosen)
                    outcome.missing = [missing for missing in outcome.missing if missing not in chosen]
        verb = "rejouée(s)" if args.dlq_command == "replay" else "supprimée(s)"
        print(f"{len(outcome.done)} lettre(s) morte(s) {verb}.")
        for letter_id, reason in outcome.failed.items():
            print(f"Refusée par le broker : {letter_id} ({reason})", file=sys.stderr)
        for letter_id in outcome.missing:
            print(f"Lettre morte introuvable : {letter_id}", file=sys.stderr)
        return 1 if outcome.failed or outcome.missing else 0
    finally:
        bus.close()
        for relay in relays.values():
            relay.session_factory.kw["bind"].dispose()


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
    bench.add_argument("what", choices=["bus", "import", "search", "sqlite", "relay", "pipeline", "all"], nargs="?",
                       default="all", help="all : toutes sauf pipeline (longue)")
    bench.add_argument("--size", type=int, default=0, help="taille (0 : valeur par défaut de chaque mesure)")
    bench.add_argument("--postgres-url", default=None,
                       help="relay, pipeline : PostgreSQL où créer les bases de la mesure (sinon SQLite)")
    bench.add_argument("--broker-url", default=None,
                       help="bus, relay, pipeline : RabbitMQ à utiliser (amqp://… ; sinon le bus SQLite embarqué)")
    bench.add_argument("--keep-logs", action="store_true", help="pipeline : garde les journaux des workers")
    bench.add_argument("--replicas", action="append", metavar="SERVICE=N",
                       help="pipeline : N processus worker pour ce service (ex. fiche=2 ; répétable)")
    bench.add_argument("--profile", default=None, metavar="DOSSIER",
                       help="pipeline : chaque worker et l'import tournent sous cProfile, profils écrits dans ce "
                            "dossier (<service>-worker.prof, import.prof ; plus lents d'autant)")
    bench.add_argument("--timeout", type=float, default=7200.0,
                       help="pipeline : secondes d'attente au plus après l'import (chiffres partiels au-delà)")
    bench.set_defaults(func=cmd_bench)
    settings = sub.add_parser("settings", help="liste les réglages (variables d'environnement) de chaque processus")
    settings.set_defaults(func=cmd_settings)
    dead = sub.add_parser("dlq", help="lettres mortes : événements mis de côté par le bus (liste, détail, rejeu, "
                                      "suppression)")
    dead_sub = dead.add_subparsers(dest="dlq_command", required=True)
    sources = [manifest.name for manifest in portal_services() if manifest.consumed_types] + ["unroutable", "outbox"]
    for name, help_text in (("list", "liste les lettres mortes, les plus anciennes d'abord"),
                            ("show", "affiche une lettre morte entière"),
                            ("replay", "renvoie des lettres mortes à leur service (ou, non routées, à l'échange)"),
                            ("purge", "supprime des lettres mortes")):
        command = dead_sub.add_parser(name, help=help_text)
        command.add_argument("--service", choices=sources,
                             help="une seule source (un service, unroutable, ou outbox : les événements que le "
                                  "broker a refusés et que les services gardent de côté)")
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
