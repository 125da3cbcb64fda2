"""The tests' TCP proxy (services.testing.TcpProxy) over a loopback echo server: it forwards, it cuts, it stalls,
it comes back, and it leaves no thread behind."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from services.testing import TcpProxy, eventually


@pytest.fixture
def echo_server():
    """(host, port) of a server that echoes every byte back, one thread per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def echo(connection: socket.socket) -> None:
        with connection:
            try:
                while data := connection.recv(65536):
                    connection.sendall(data)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            connection.settimeout(None)
            threading.Thread(target=echo, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join(timeout=5)
    listener.close()


def connect(proxy: TcpProxy) -> socket.socket:
    client = socket.create_connection((proxy.host, proxy.port), timeout=2)
    return client


def exchange(client: socket.socket, data: bytes) -> bytes:
    client.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def refused(proxy: TcpProxy) -> bool:
    """A new connection fails: reset during the handshake, or at its first read (the handshake is the kernel's)."""
    try:
        client = connect(proxy)
    except OSError:
        return True
    with client:
        return closed_by_peer(client)


def closed_by_peer(client: socket.socket) -> bool:
    """The connection was closed or reset from the other side (a read returns nothing or fails)."""
    try:
        client.sendall(b"?")
        return client.recv(1) == b""
    except OSError:
        return True


def test_forwards_both_ways_and_rewrites_urls(echo_server):
    with TcpProxy(*echo_server) as proxy:
        with connect(proxy) as client:
            assert exchange(client, b"bonjour" * 10_000) == b"bonjour" * 10_000
            assert proxy.connections == 1
        eventually(lambda: proxy.connections == 0, timeout=5, message="the link was not closed with its client")
        assert proxy.url("postgresql://postgres:secret@db.example:5432/t_1?sslmode=disable") == \
            f"postgresql://postgres:secret@127.0.0.1:{proxy.port}/t_1?sslmode=disable"
        assert proxy.url("amqp://guest:guest@127.0.0.1:5672//") == f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    assert TcpProxy.for_url("amqp://guest:guest@127.0.0.1//").target == ("127.0.0.1", 5672)


def test_cut_closes_every_connection_and_resets_new_ones_until_restored(echo_server):
    with TcpProxy(*echo_server) as proxy:
        client = connect(proxy)
        assert exchange(client, b"avant") == b"avant"
        proxy.cut()
        assert closed_by_peer(client), "a cut connection must fail at once"
        client.close()
        assert refused(proxy)
        assert proxy.refused >= 1
        proxy.restore()
        with connect(proxy) as again:
            assert exchange(again, b"apres") == b"apres"


def test_stall_holds_the_bytes_with_the_connection_open_and_restore_delivers_them(echo_server):
    with TcpProxy(*echo_server) as proxy:
        with connect(proxy) as client:
            assert exchange(client, b"un") == b"un"
            proxy.stall()
            client.sendall(b"deux")
            client.settimeout(0.5)
            with pytest.raises(socket.timeout):
                client.recv(10)  # nothing comes back, and nothing closed the connection either
            with connect(proxy) as newcomer:  # a new connection is accepted but gets nothing either
                newcomer.settimeout(0.3)
                newcomer.sendall(b"trois")
                with pytest.raises(socket.timeout):
                    newcomer.recv(10)
                proxy.restore()
                newcomer.settimeout(2)
                assert newcomer.recv(10) == b"trois"
            client.settimeout(2)
            assert client.recv(10) == b"deux"


def test_a_cut_during_a_stall_drops_what_was_held(echo_server):
    with TcpProxy(*echo_server) as proxy:
        with connect(proxy) as client:
            proxy.stall()
            client.sendall(b"perdu")
            time.sleep(0.1)
            proxy.cut()
            client.settimeout(2)
            assert closed_by_peer(client)


def test_close_stops_listening_and_ends_every_thread(echo_server):
    before = {thread.ident for thread in threading.enumerate()}
    proxy = TcpProxy(*echo_server)
    clients = [connect(proxy) for _ in range(3)]
    for client in clients:
        assert exchange(client, b"x") == b"x"
    proxy.close()
    for client in clients:
        assert closed_by_peer(client)
        client.close()
    with pytest.raises(OSError):
        socket.create_connection((proxy.host, proxy.port), timeout=1).close()

    def proxy_threads():
        return [thread for thread in threading.enumerate()
                if thread.ident not in before and thread.name.startswith(f"tcp-proxy-{proxy.port}")]
    eventually(lambda: not proxy_threads(), timeout=5, message="proxy threads still running")


def test_a_target_that_is_down_resets_the_client():
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there any more
    with TcpProxy("127.0.0.1", port) as proxy:
        assert refused(proxy)
