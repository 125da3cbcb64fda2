"""TokenVerifier against a real HTTP server on 127.0.0.1 whose JWKS changes, one that hangs, and none at all."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.auth import InvalidToken, SigningKeysUnavailable, TokenVerifier, generate_signing_key, issue_token, \
    public_jwks


class JwksServer:
    """Serves `self.jwks` at /jwks.json; /hang answers only after `hang_seconds`."""

    def __init__(self):
        self.jwks, self.requests, self.hang_seconds = {"keys": []}, 0, 2.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests += 1
                if self.path == "/hang":
                    time.sleep(owner.hang_seconds)
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def token(key) -> str:
    return issue_token(key, subject="acc-1", role="assmat", issuer="iss", audience="aud", lifetime_seconds=600)


def test_keys_changing_on_identity_reach_the_verifier_over_http():
    first, second, third = (generate_signing_key() for _ in range(3))
    clock = FakeClock()
    with JwksServer() as identity:
        identity.jwks = public_jwks([first, second])
        verifier = TokenVerifier(f"{identity.url}/jwks.json", "iss", "aud", refresh_seconds=60, clock=clock)
        assert verifier.verify(token(first)).subject == "acc-1"

        identity.jwks = public_jwks([first, second, third])   # rotation: `third` added
        clock.now = 15
        assert verifier.verify(token(third)).subject == "acc-1"  # unknown kid: fetched at once
        assert identity.requests == 2

        identity.jwks = public_jwks([second, third])   # `first` withdrawn
        clock.now = 74
        assert verifier.verify(token(first)).subject == "acc-1"  # the set fetched at 15 is not 60 s old yet
        assert identity.requests == 2
        clock.now = 75
        with pytest.raises(InvalidToken):
            verifier.verify(token(first))
        assert identity.requests == 3
        assert verifier.verify(token(second)).subject == "acc-1"
        assert verifier.verify(token(third)).subject == "acc-1"
        assert identity.requests == 3


def test_a_hanging_identity_costs_one_short_timeout_and_others_are_refused_at_once():
    key = generate_signing_key()
    with JwksServer() as identity:
        identity.jwks = public_jwks([key])
        verifier = TokenVerifier(f"{identity.url}/hang", "iss", "aud", http_timeout=0.3)
        results = []

        def verify():
            started = time.monotonic()
            try:
                verifier.verify(token(key))
                results.append(("accepted", time.monotonic() - started))
            except SigningKeysUnavailable:
                results.append(("unavailable", time.monotonic() - started))

        fetcher = threading.Thread(target=verify)
        fetcher.start()
        deadline = time.monotonic() + 5
        while identity.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        verify()   # while the fetch hangs
        fetcher.join()
        assert results[0][0] == "unavailable" and results[0][1] < 0.2
        assert results[1][0] == "unavailable" and results[1][1] < 1.5   # the timeout, not the 2 s hang
        assert identity.requests == 1


def test_identity_not_listening_is_a_fast_503_not_a_crash():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = TokenVerifier(f"http://127.0.0.1:{port}/jwks.json", "iss", "aud")
    started = time.monotonic()
    with pytest.raises(SigningKeysUnavailable, match="ConnectionError"):
        verifier.verify(token(generate_signing_key()))
    assert time.monotonic() - started < 1.5
