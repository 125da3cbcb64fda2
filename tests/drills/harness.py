"""The services of a drill as real processes on the real servers, with the broker and chosen databases reached
through the test's own TCP proxies (services.testing.TcpProxy), and what the drills count at the end.

Each drill gets its own databases and its own bus namespace, so drills never see each other's events or the rest
of the run's. Processes are started exactly as deploy/docker-compose.yml and `assmat run` start them
(`python -m <package> migrate | worker | web`); their logs are kept under the drill's folder (`logs/<name>.log`).
Checks read the databases and the broker directly, never through the proxies, so a cut never blinds them.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa
from kombu import Consumer, Queue

from services.bus import Bus, connect
from services.cli import embedded_environment, portal_services, stop_processes
from services.db import make_engine, make_session_factory
from services.health import not_ready_reason, read_states
from services.testing import TcpProxy, eventually

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DrillPortal:
    """`services` (packages) on fresh databases and the namespace `<run>_<name>`. Workers and web processes reach
    the broker through `broker_proxy`, and the databases of `proxied_databases` through `database_proxies[pkg]`;
    `settings` are extra environment variables for every process."""

    def __init__(self, real_servers, folder: Path, name: str, services: list[str], *,
                 proxied_databases: tuple[str, ...] = (), settings: dict[str, str] | None = None):
        self.folder = folder
        self.log_dir = folder / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.services = list(services)
        self.namespace = f"{real_servers.namespace}_{name}"
        self.broker_url = real_servers.broker_url
        self.database_urls = {package: real_servers.database(f"{name}_{package}") for package in services}
        self.broker_proxy = TcpProxy.for_url(self.broker_url)
        self.database_proxies = {package: TcpProxy.for_url(self.database_urls[package])
                                 for package in proxied_databases}
        ports = {manifest.name: free_port() for manifest in portal_services()}
        env = embedded_environment(folder / "data", ports=ports)
        env.update({
            "BROKER_URL": self.broker_url,  # one-off commands (migrate, dlq) go direct; workers through the proxy
            "ASSMAT_ENV": "test",
            "LOG_FORMAT": "json",
            "BUS_NAMESPACE": self.namespace,
            "GEO_DEPARTEMENTS": "28",
            "CONSUMER_RETRY_DELAYS_MS": "200,500,1000",
            "WORKER_STATUS_SECONDS": "1",
        })
        env.update(settings or {})
        for package, url in self.database_urls.items():
            env[f"{package.upper()}_DATABASE_URL"] = url
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_urls: dict[str, str] = {}
        self._engines: dict[str, sa.Engine] = {}
        self._bus: Bus | None = None

    # -- processes -----------------------------------------------------------------------------------------------
    def process_env(self, package: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """What a long-running process of `package` sees: the broker and its proxied database through proxies."""
        env = dict(self.env, BROKER_URL=self.broker_proxy.url(self.broker_url))
        if package in self.database_proxies:
            env[f"{package.upper()}_DATABASE_URL"] = self.database_proxies[package].url(self.database_urls[package])
        env.update(overrides or {})
        return env

    def command(self, package: str, *args: str, timeout: float = 300, check: bool = True,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """A one-off command (`migrate`, `import`...) on the direct URLs: the drills cut long-running processes."""
        result = subprocess.run([sys.executable, "-m", package, *args], env=env or self.env, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"python -m {package} {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def migrate(self, *packages: str) -> None:
        for package in packages or self.services:
            self.command(package, "migrate")

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        log = open(self.log_dir / f"{name}.log", "ab")
        log.write(f"\n=== started {time.strftime('%H:%M:%S')} ===\n".encode())
        log.flush()
        process = subprocess.Popen([sys.executable, "-m", *argv], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the child keeps its own descriptor
        self.processes[name] = process
        return process

    def start_worker(self, package: str, **overrides: str) -> subprocess.Popen:
        return self._start(f"{package}-worker", [package, "worker"], self.process_env(package, overrides))

    def start_web(self, package: str) -> str:
        """Start the service's web process; returns its base URL (also in `web_urls`)."""
        port = self.env[f"{package.upper()}_PORT"]
        self._start(f"{package}-web", [package, "web", "--host", "127.0.0.1", "--port", port],
                    self.process_env(package))
        self.web_urls[package] = f"http://127.0.0.1:{port}"
        return self.web_urls[package]

    def kill(self, name: str) -> None:
        """SIGKILL: no clean stop, no ack, no last commit."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self, name: str) -> None:
        """SIGTERM: the clean stop of a deployment."""
        process = self.processes.pop(name)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def assert_alive(self) -> None:
        dead = {name: process.returncode for name, process in self.processes.items() if process.poll() is not None}
        assert not dead, f"processes ended unexpectedly: {dead} (logs in {self.log_dir})"

    def wait_workers_ready(self, *packages: str, timeout: float = 120) -> None:
        """Until the running worker process of each of `packages` beats as consuming with an ok relay (what
        /readyz asks); the last beats of a worker killed a moment ago do not count."""
        for package in packages:
            pid = self.processes[f"{package}-worker"].pid
            try:
                eventually(lambda: self.assert_alive() or self.worker_not_ready(package, pid) is None,
                           timeout=timeout, interval=0.5, message=f"{package}'s worker not ready")
            except AssertionError as error:
                raise AssertionError(f"{error}: {self.worker_not_ready(package, pid)}") from None

    def worker_not_ready(self, package: str, pid: int | None = None) -> str | None:
        """Why no worker of `package` (or none with process id `pid`) is ready, as /readyz would say; None: ready."""
        states = read_states(make_session_factory(self.engine(package)), package)
        if pid is not None:  # worker ids are host:pid:random
            states = [state for state in states if state.worker_id.rsplit(":", 2)[1] == str(pid)]
        return not_ready_reason(states, package, dt.datetime.now(dt.timezone.utc), max_age_seconds=10)

    def log_lines(self, name: str, message: str) -> int:
        """How many log lines of process `name` carry `message` (JSON logs: its "msg")."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return 0
        needle = json.dumps(message, ensure_ascii=False)
        with path.open(encoding="utf-8", errors="replace") as lines:
            return sum(1 for line in lines if f'"msg": {needle}' in line)

    # -- direct access, for the checks ---------------------------------------------------------------------------
    def engine(self, package: str) -> sa.Engine:
        if package not in self._engines:
            self._engines[package] = make_engine(self.database_urls[package], pool_size=2)
        return self._engines[package]

    def scalar(self, package: str, sql: str, **params):
        with self.engine(package).connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def rows(self, package: str, sql: str, **params) -> list:
        with self.engine(package).connect() as connection:
            return connection.execute(sa.text(sql), params).all()

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus(self.broker_url, self.namespace)
        return self._bus

    def waiting(self, queue: str) -> int | None:
        """Messages ready in a queue of the namespace (`fiche`, `fiche.dead`, `unroutable`); None if absent."""
        return self.bus.waiting(f"{self.namespace}.{queue}")

    def take_all(self, queue: str, idle_seconds: float = 2.0) -> list[dict]:
        """Consume (and remove) every message of a queue of the namespace; their bodies, decoded."""
        bodies: list[dict] = []
        with self.bus.connection() as conn:
            connect(conn)
            channel = conn.channel()

            def keep(body, message):
                raw = message.body if isinstance(message.body, bytes) else str(message.body).encode()
                bodies.append(json.loads(raw.decode("utf-8")))
                message.ack()

            with Consumer(channel, queues=[Queue(f"{self.namespace}.{queue}", no_declare=True)],
                          callbacks=[keep], accept=None, auto_declare=False) as consumer:
                consumer.qos(prefetch_count=500)
                while True:
                    try:
                        conn.drain_events(timeout=idle_seconds)
                    except socket.timeout:
                        break
        return bodies

    def peek(self, queue: str, limit: int = 1000) -> list[tuple[dict, dict]]:
        """(headers, decoded body) of the messages of a queue of the namespace, left in place: read without ack,
        they go back to the queue when the channel closes."""
        found: list[tuple[dict, dict]] = []
        with self.bus.connection() as conn:
            connect(conn)
            channel = conn.channel()
            queue_ = Queue(f"{self.namespace}.{queue}", no_declare=True)(channel)
            while len(found) < limit:
                message = queue_.get(no_ack=False, accept=None)
                if message is None:
                    break
                raw = message.body if isinstance(message.body, bytes) else str(message.body).encode()
                found.append((dict(message.headers or {}), json.loads(raw.decode("utf-8"))))
            channel.close()
        return found

    def inbox_has(self, package: str, event_id: str) -> bool:
        """The service handled this event (applied it, or skipped it as a duplicate or as older than its state)."""
        return bool(self.scalar(package, "SELECT count(*) FROM inbox WHERE event_id = :id", id=event_id))

    def dlq(self, *args: str, without: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """`assmat dlq ...` on this drill's broker, namespace and databases (direct, as an operator would run it);
        `without`: variables the operator's environment lacks (a service not deployed yet)."""
        env = {name: value for name, value in self.env.items() if name not in without}
        return subprocess.run([sys.executable, "-m", "services.cli", "dlq", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    def readyz(self, base_url: str) -> tuple[int, dict]:
        response = requests.get(f"{base_url}/readyz", timeout=5)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {}

    # -- the end -------------------------------------------------------------------------------------------------
    def close(self) -> None:
        stop_processes(self.processes.values(), grace_seconds=15)
        for proxy in (self.broker_proxy, *self.database_proxies.values()):
            proxy.close()
        if self._bus is not None:
            self._bus.close()
        for engine in self._engines.values():
            engine.dispose()


def outbox_counts(portal: DrillPortal, package: str) -> dict[str, int]:
    """Rows of a service's outbox: pending (unsent, unparked), parked, sent."""
    row = portal.rows(package, "SELECT count(*) FILTER (WHERE sent_at IS NULL AND parked_at IS NULL), "
                               "count(*) FILTER (WHERE parked_at IS NOT NULL AND sent_at IS NULL), "
                               "count(*) FILTER (WHERE sent_at IS NOT NULL) FROM outbox")[0]
    return {"pending": row[0], "parked": row[1], "sent": row[2]}


def per_subject(portal: DrillPortal, package: str, event_type: str) -> Counter:
    """How many outbox rows of `event_type` each subject has (a subject seen twice: applied twice)."""
    return Counter(dict(portal.rows(package, "SELECT subject, count(*) FROM outbox WHERE event_type = :t "
                                             "GROUP BY subject", t=event_type)))


def agrement_data(pmi_number: str, **changes) -> dict:
    """The data of an agrément event as agrement-svc writes it (every field of the catalogue), for drills that
    publish agrément events themselves."""
    data = {"pmi_number": pmi_number, "civility": "Mme", "first_name": "Claire", "last_name": "EXERCICE",
            "birth_name": None, "birth_date": "1985-04-12", "email": None, "phone": "02 61 91 00 02",
            "address_line": "8 rue Noël Ballay", "address_complement": None, "postcode": "28000",
            "commune_insee": "28085", "circonscription": "Chartres", "capacity_total": 4, "capacity_under_3": 3,
            "validity_start": "2022-09-01", "validity_end": "2032-08-31", "status": "active",
            "publication_opposed": False, "place_type": "home", "mam_id": None, "mam_name": None}
    data.update(changes)
    return data


def env_flag(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default
