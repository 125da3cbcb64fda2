"""pytest plugin (loaded through the `pytest11` entry point): finds the real servers for the integration tiers, and
gives tests a loopback TCP proxy to cut or stall them (`TcpProxy`, fixture `tcp_proxy`).

Order, as the architecture asks: URLs in the environment (`TEST_POSTGRES_URL`, `TEST_BROKER_URL`, and
`TEST_REDIS_URL` for the tests of the Redis backends, fixture `real_redis`), otherwise a
docker-compose harness through testcontainers (`deploy/docker-compose.test.yml`) where a Docker engine answers,
otherwise the tier is skipped LOUDLY (a banner in the summary). With `ASSMAT_REQUIRE_REAL_SERVERS=1` (CI) a skip
becomes a failure. Every run gets its own databases and its own bus namespace, so runs never see each other's data; its queues
expire on the broker once unused (BUS_QUEUE_EXPIRES_MS) and its databases are dropped at the end.
"""
from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REQUIRE_VARIABLE = "ASSMAT_REQUIRE_REAL_SERVERS"
_skipped_reasons: list[str] = []


def pytest_configure(config):
    """Tests run as `test`: a process without ASSMAT_ENV is production (services.settings), which would demand
    real secrets from every settings loader and every service a test starts. An explicit value is kept."""
    os.environ.setdefault("ASSMAT_ENV", "test")


@dataclass
class RealServers:
    postgres_url: str          # an administrative URL (a database we may CREATE DATABASE from)
    broker_url: str
    redis_url: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _created: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"test_{self.run_id}"

    def database(self, name: str) -> str:
        """Create a fresh database for this run and return its URL; dropped when the session ends.

        Names are numbered, so a fixture may ask for the same name in every test."""
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        from services.db import normalize_url

        db_name = f"t_{self.run_id}_{len(self._created)}_{name}".lower().replace("-", "_")[:63]
        admin = sa.create_engine(normalize_url(self.postgres_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
        admin.dispose()
        self._created.append(db_name)
        return make_url(normalize_url(self.postgres_url)).set(database=db_name).render_as_string(
            hide_password=False)

    def drop_databases(self) -> None:
        import sqlalchemy as sa

        from services.db import normalize_url

        admin = sa.create_engine(normalize_url(self.postgres_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for db_name in self._created:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.dispose()
        self._created.clear()


def _docker_available() -> bool:
    try:
        import docker
        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _compose_file(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "deploy" / "docker-compose.test.yml"
        if candidate.exists():
            return candidate
    return None


def _skip_or_fail(reason: str):
    message = f"REAL-SERVER TIER NOT RUN: {reason}"
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{message} ({REQUIRE_VARIABLE}=1 forbids skipping it)", pytrace=False)
    _skipped_reasons.append(reason)
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_redis(real_servers):
    """The URL of a Redis for this run (`TEST_REDIS_URL`, else the harness's compose file, which starts one beside
    PostgreSQL and RabbitMQ); keys get a prefix of their own (`redis_namespace`). Same skip rule as the others."""
    if not real_servers.redis_url:
        _skip_or_fail("set TEST_REDIS_URL, or run a Docker engine for testcontainers")
    return real_servers.redis_url


@pytest.fixture
def redis_namespace() -> str:
    return f"test_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def real_servers(request):
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    broker_url = os.environ.get("TEST_BROKER_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    compose = None
    if not (postgres_url and broker_url):
        compose_file = _compose_file(Path(str(request.config.rootpath)))
        if compose_file is None or not _docker_available():
            _skip_or_fail("set TEST_POSTGRES_URL and TEST_BROKER_URL, or run a Docker engine for testcontainers")
        from testcontainers.compose import DockerCompose
        compose = DockerCompose(str(compose_file.parent), compose_file_name=compose_file.name, wait=True)
        compose.start()
        pg_host, pg_port = compose.get_service_host("postgres", 5432), compose.get_service_port("postgres", 5432)
        mq_host, mq_port = compose.get_service_host("rabbitmq", 5672), compose.get_service_port("rabbitmq", 5672)
        postgres_url = postgres_url or f"postgresql://postgres:postgres@{pg_host}:{pg_port}/postgres"
        broker_url = broker_url or f"amqp://guest:guest@{mq_host}:{mq_port}//"
        if not redis_url:
            redis_url = (f"redis://{compose.get_service_host('redis', 6379)}:"
                         f"{compose.get_service_port('redis', 6379)}/0")
    servers = RealServers(postgres_url=postgres_url, broker_url=broker_url, redis_url=redis_url)
    # The run's queues (in this process and in the services it starts) vanish once unused for 10 minutes.
    os.environ.setdefault("BUS_QUEUE_EXPIRES_MS", "600000")
    try:
        yield servers
    finally:
        servers.drop_databases()
        if compose is not None:
            compose.stop()


def eventually(check, timeout: float = 30.0, interval: float = 0.2, message: str = "condition not met"):
    """Poll `check()` until it returns a truthy value, and return it; fail after `timeout` seconds.
    Events cross processes asynchronously: tests wait for an outcome instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} after {timeout:.0f} s (last value: {last!r})")


_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "amqp": 5672, "pyamqp": 5672, "amqps": 5671,
                  "http": 80, "https": 443}


class _Link:
    """One proxied connection: the client's socket, the server's, and the two pumps between them. The sockets are
    closed by the last pump to end, never while the other one may still read or write them."""

    def __init__(self, client: socket.socket):
        self.client = client
        self.server: socket.socket | None = None
        self.aborted = False
        self._pumps = 2
        self._lock = threading.Lock()

    def sockets(self) -> list[socket.socket]:
        return [sock for sock in (self.client, self.server) if sock is not None]

    def abort(self) -> None:
        """Both ends closed at once, as when the server dies: blocked reads return, both pumps end."""
        with self._lock:
            self.aborted = True
            for sock in self.sockets():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def pump_ended(self) -> bool:
        with self._lock:
            self._pumps -= 1
            last = self._pumps <= 0
        if last:
            for sock in self.sockets():
                sock.close()
        return last


class TcpProxy:
    """A loopback TCP proxy between a client and a server, to play outages in tests: listens on 127.0.0.1 (a free
    port, `port`) and forwards every connection to `target_host:target_port`, one thread per direction.

    - `cut()`: every connection is closed and new ones are reset as soon as they are accepted (a server down, a
      network cut); clients get errors at once.
    - `stall()`: connections stay open, new ones are accepted, but no byte is forwarded either way (a frozen node,
      a broker blocked by a resource alarm); only heartbeats and timeouts can tell.
    - `restore()` (or `resume()`): forwarding again; bytes held by a stall are delivered, cut connections stay
      closed (clients reconnect).
    - `close()`: stops listening and closes everything (the `tcp_proxy` fixture does it at teardown).

    `url(url)` rewrites a URL (PostgreSQL, AMQP, HTTP) to go through the proxy, keeping credentials and path."""

    def __init__(self, target_host: str, target_port: int, *, connect_timeout: float = 5.0):
        self.target = (target_host, int(target_port))
        self.connect_timeout = connect_timeout
        self.host = "127.0.0.1"
        self._listener = socket.create_server((self.host, 0), backlog=128)
        self._listener.settimeout(0.2)  # the acceptor notices close() even if no client ever connects
        self.port: int = self._listener.getsockname()[1]
        self.mode = "open"  # open | stalled | cut
        self.accepted = 0   # connections forwarded since the start
        self.refused = 0    # connections reset because the proxy was cut
        self._flowing = threading.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, name=f"tcp-proxy-{self.port}", daemon=True)
        self._acceptor.start()

    @classmethod
    def for_url(cls, url: str, **options) -> "TcpProxy":
        """A proxy towards the host and port of `url` (the scheme's usual port when it names none)."""
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.split("+", 1)[0])
        if port is None:
            raise ValueError(f"no port in {parts.scheme}:// URL and none known for its scheme")
        return cls(parts.hostname or "127.0.0.1", port, **options)

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        return parts._replace(netloc=f"{userinfo}{at}{self.host}:{self.port}").geturl()

    @property
    def connections(self) -> int:
        """Connections open through the proxy now."""
        with self._lock:
            return len(self._links)

    # -- faults --------------------------------------------------------------------------------------------------
    def cut(self) -> None:
        with self._lock:
            self.mode = "cut"
            links = list(self._links)
        self._flowing.set()  # stalled pumps wake up, see their link aborted and drop what they hold
        for link in links:
            link.abort()

    def stall(self) -> None:
        with self._lock:
            self.mode = "stalled"
            self._flowing.clear()

    def restore(self) -> None:
        with self._lock:
            self.mode = "open"
            self._flowing.set()

    resume = restore

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- forwarding ----------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        try:
            while not self._closed:
                try:
                    client, _ = self._listener.accept()
                except (socket.timeout, BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                client.settimeout(None)
                if self.mode == "cut" or self._closed:
                    self._reset(client)
                    continue
                threading.Thread(target=self._serve, args=(client,), name=f"tcp-proxy-{self.port}-link",
                                 daemon=True).start()
        finally:
            self._listener.close()

    def _reset(self, client: socket.socket) -> None:
        """Close with RST (SO_LINGER 0): the client's next read or write fails at once, as if refused."""
        self.refused += 1
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        client.close()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=self.connect_timeout)
        except OSError:
            self._reset(client)  # the real server is not there either
            return
        server.settimeout(None)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(client)
        link.server = server
        with self._lock:
            if self.mode == "cut" or self._closed:  # cut while this link was being made
                link.aborted = True
            self._links.add(link)
            self.accepted += 1
        if link.aborted:
            link.abort()
        threading.Thread(target=self._pump, args=(link, server, client), name=f"tcp-proxy-{self.port}-down",
                         daemon=True).start()
        self._pump(link, client, server)

    def _pump(self, link: _Link, source: socket.socket, destination: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:  # that side closed: tell the other one, and let its own pump finish
                    try:
                        destination.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                self._flowing.wait()  # stalled: the bytes stay here, and the connection stays open
                if link.aborted:
                    return
                destination.sendall(data)
        except OSError:
            link.abort()
        finally:
            if link.pump_ended():
                with self._lock:
                    self._links.discard(link)


@pytest.fixture
def tcp_proxy():
    """`tcp_proxy(url)` -> a `TcpProxy` towards the host and port of `url`, closed after the test."""
    proxies: list[TcpProxy] = []

    def start(url: str) -> TcpProxy:
        proxies.append(TcpProxy.for_url(url))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_reasons:
        terminalreporter.write_sep("!", "REAL-SERVER TIER SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"Integration and end-to-end tests did not run: {_skipped_reasons[0]}.")
        terminalreporter.write_line(f"CI sets {REQUIRE_VARIABLE}=1, which turns this skip into a failure.")


def sample_event(subject: str, type_: str = "agrement.granted"):
    """A minimal event of the catalogue's envelope, for the kernel's bus tests."""
    from services.events import Event
    return Event(type=type_, version=1, subject=subject, data={"n": subject}, producer="test")


@contextlib.contextmanager
def running(consumer):
    """A ServiceConsumer in a thread, as the worker runs it; yields its stop event, and checks it stopped."""
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run_until, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the consumer did not stop"
