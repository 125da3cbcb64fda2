"""Fixtures of the backbone's tests: the two ways of running (PostgreSQL + RabbitMQ, SQLite + the SQLite bus), and a
loopback TCP proxy that can stall or cut the connections it carries, to play a frozen broker or a database outage."""
from __future__ import annotations

import socket
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

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


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target. `stall()` stops forwarding bytes without closing anything (a frozen
    node, a broker under a resource alarm); `cut()` closes every connection and refuses new ones (a server down);
    `resume()` undoes either."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._refusing = False
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, destination in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, destination), daemon=True).start()

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._forwarding.wait()  # stalled: the bytes stay here, and the connection stays open
                if self._refusing:
                    break
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, destination):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def stall(self) -> None:
        self._forwarding.clear()

    def cut(self) -> None:
        self._refusing = True
        self._forwarding.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def resume(self) -> None:
        self._refusing = False
        self._forwarding.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


@pytest.fixture
def tcp_proxy():
    """`tcp_proxy(url)` -> a TcpProxy towards the host and port of `url` (closed after the test)."""
    proxies: list[TcpProxy] = []

    def start(url: str) -> TcpProxy:
        parts = urlsplit(url)
        proxies.append(TcpProxy(parts.hostname or "127.0.0.1", parts.port))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()
