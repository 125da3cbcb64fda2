"""services.web.client_ip: the remote address, or X-Forwarded-For's right-most untrusted hop behind a trusted
proxy only."""
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.web import client_ip, parse_networks


def request(remote, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return Request(EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": remote}).get_environ())


@pytest.mark.parametrize("remote, forwarded, trusted, expected", [
    ("203.0.113.5", "1.2.3.4", "", "203.0.113.5"),                     # no proxy trusted: the header is ignored
    ("203.0.113.5", "1.2.3.4", "127.0.0.0/8", "203.0.113.5"),          # not from the proxy: ignored
    ("127.0.0.1", "1.2.3.4", "127.0.0.0/8", "1.2.3.4"),
    ("127.0.0.1", "6.6.6.6, 1.2.3.4", "127.0.0.0/8", "1.2.3.4"),       # left of the real client: forged, unread
    ("10.0.0.2", "1.2.3.4, 10.0.0.1", "10.0.0.0/24", "1.2.3.4"),       # two proxies in a row
    ("127.0.0.1", None, "127.0.0.0/8", "127.0.0.1"),
    ("127.0.0.1", "not-an-ip", "127.0.0.0/8", "127.0.0.1"),
    ("::1", "2001:db8::7", "127.0.0.0/8,::1", "2001:db8::7"),
])
def test_client_ip(remote, forwarded, trusted, expected):
    assert client_ip(request(remote, forwarded), trusted) == expected
    assert client_ip(request(remote, forwarded), parse_networks(trusted)) == expected
