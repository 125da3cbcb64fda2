"""Fixtures of the backbone's tests: the two ways of running (PostgreSQL + RabbitMQ, SQLite + the SQLite bus). The
loopback TCP proxy that stalls or cuts connections is the kernel's (services.testing: TcpProxy, fixture tcp_proxy)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from services.bus import Bus


@dataclass
class Backbone:
    kind: str              # "postgres+rabbitmq" or "sqlite+sqlitebus"
    broker_url: str
    namespace: str
    database_url: str
    sqlite_options: dict

    @property
    def amqp(self) -> bool:
        return self.broker_url.startswith("amqp")

    def bus(self, **options) -> Bus:
        """A bus of this namespace; short heartbeats and quick SQLite polling, for tests."""
        options.setdefault("heartbeat", 2.0)
        if not self.amqp:
            options["transport_options"] = {**self.sqlite_options, **options.get("transport_options", {})}
        return Bus(self.broker_url, self.namespace, **options)


@pytest.fixture(params=["postgres+rabbitmq", "sqlite+sqlitebus"])
def backbone(request, tmp_path) -> Backbone:
    if request.param == "postgres+rabbitmq":
        servers = request.getfixturevalue("real_servers")
        return Backbone(request.param, servers.broker_url, f"{servers.namespace}_{uuid.uuid4().hex[:6]}",
                        servers.database(f"backbone_{uuid.uuid4().hex[:6]}"), {})
    return Backbone(request.param, f"sqlitebus:///{tmp_path / 'bus.sqlite3'}", "embedded",
                    f"sqlite:///{tmp_path / 'svc.sqlite3'}", {"polling_interval": 0.02})
