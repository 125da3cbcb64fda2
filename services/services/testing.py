"""pytest plugin (loaded through the `pytest11` entry point): finds the real servers for the integration tiers.

Order, as the architecture asks: URLs in the environment (`TEST_POSTGRES_URL`, `TEST_BROKER_URL`), otherwise a
docker-compose harness through testcontainers (`deploy/docker-compose.test.yml`) where a Docker engine answers,
otherwise the tier is skipped LOUDLY (a banner in the summary). With `ASSMAT_REQUIRE_REAL_SERVERS=1` (CI) a skip
becomes a failure. Every run gets its own databases and its own bus namespace, so runs never see each other's data; its queues
expire on the broker once unused (BUS_QUEUE_EXPIRES_MS) and its databases are dropped at the end.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE_VARIABLE = "ASSMAT_REQUIRE_REAL_SERVERS"
_skipped_reasons: list[str] = []


@dataclass
class RealServers:
    postgres_url: str          # an administrative URL (a database we may CREATE DATABASE from)
    broker_url: str
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
def real_servers(request):
    postgres_url = os.environ.get("TEST_POSTGRES_URL")
    broker_url = os.environ.get("TEST_BROKER_URL")
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
    servers = RealServers(postgres_url=postgres_url, broker_url=broker_url)
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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_reasons:
        terminalreporter.write_sep("!", "REAL-SERVER TIER SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"Integration and end-to-end tests did not run: {_skipped_reasons[0]}.")
        terminalreporter.write_line(f"CI sets {REQUIRE_VARIABLE}=1, which turns this skip into a failure.")
