"""How TokenVerifier keeps identity's key set: scheduled refresh, rotation, grace when identity fails, cold start.

A fake JWKS source (counts its calls, can fail or be slow) and a clock the tests move stand in for identity.
"""
import logging
import threading
import time

import pytest
from flask import Flask
from joserfc import jwt

from services.auth import (InvalidToken, SigningKeysUnavailable, TokenVerifier, generate_signing_key, issue_token,
                           public_jwks, require_token)
from services.web import init_service_app

REFRESH = 300.0


class FakeJwks:
    def __init__(self, *keys):
        self.keys, self.calls, self.error, self.delay = list(keys), 0, None, 0.0
        self._count = threading.Lock()

    def __call__(self) -> dict:
        with self._count:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return public_jwks(self.keys)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def keys():
    return [generate_signing_key() for _ in range(3)]


@pytest.fixture
def clock():
    return FakeClock()


def token(key, **overrides) -> str:
    options = dict(subject="acc-1", role="assmat", issuer="iss", audience="aud", lifetime_seconds=3600)
    options.update(overrides)
    return issue_token(key, **options)


def verifier_for(source, clock=None, **options) -> TokenVerifier:
    options.setdefault("refresh_seconds", REFRESH)
    if clock is not None:
        options["clock"] = clock
    return TokenVerifier("http://identity.test/jwks", "iss", "aud", jwks_source=source, **options)


def settle(verifier: TokenVerifier) -> None:
    """Wait for a refresh the verifier started in the background, if any."""
    if verifier._background is not None:
        verifier._background.join(5)
        assert not verifier._background.is_alive()


def timed(call):
    started = time.monotonic()
    try:
        return call(), time.monotonic() - started
    except InvalidToken as error:
        return error, time.monotonic() - started


# --- scheduled refresh and rotation -------------------------------------------------------------------------------

def test_a_key_removed_from_the_jwks_is_refused_once_the_refresh_interval_has_passed(keys, clock):
    old, current = keys[0], keys[1]
    source = FakeJwks(old, current)
    verifier = verifier_for(source, clock)
    assert verifier.verify(token(old)).subject == "acc-1"
    source.keys = [current]

    clock.advance(REFRESH - 1)
    assert verifier.verify(token(old)).subject == "acc-1"  # the set is still fresh: no fetch
    assert source.calls == 1

    clock.advance(1)
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token(old))
    assert not isinstance(refused.value, SigningKeysUnavailable)
    assert source.calls == 2
    assert verifier.verify(token(current)).subject == "acc-1"
    assert source.calls == 2


def test_a_new_key_is_accepted_at_once_without_waiting_for_the_interval(keys, clock):
    first, rotated = keys[0], keys[1]
    source = FakeJwks(first)
    verifier = verifier_for(source, clock)
    verifier.verify(token(first))
    source.keys = [first, rotated]

    clock.advance(10)  # min_refetch_seconds, far below the refresh interval
    assert verifier.verify(token(rotated)).subject == "acc-1"
    assert source.calls == 2


def test_a_forged_kid_does_not_turn_requests_into_fetches(keys, clock):
    genuine, forger = keys[0], keys[2]
    source = FakeJwks(genuine)
    verifier = verifier_for(source, clock)
    verifier.verify(token(genuine))
    forged = token(forger)

    for _ in range(50):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
        clock.advance(0.1)
    assert source.calls == 1  # 5 seconds of forged kids: no fetch within min_refetch_seconds of the last one

    for _ in range(100):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
        clock.advance(0.1)
    assert source.calls == 2  # 10 more seconds: one fetch, at most one per min_refetch_seconds
    assert verifier.verify(token(genuine)).subject == "acc-1"


def test_a_token_without_key_id_is_refused_without_fetching(keys, clock):
    source = FakeJwks(keys[0])
    verifier = verifier_for(source, clock)
    no_kid = jwt.encode({"alg": "RS256"}, {"iss": "iss", "aud": "aud", "sub": "x", "role": "assmat",
                                           "exp": int(time.time()) + 60}, keys[0])
    with pytest.raises(InvalidToken):
        verifier.verify(no_kid)
    assert source.calls == 0


def test_no_request_waits_behind_a_scheduled_refresh(keys, clock):
    key = keys[0]
    source = FakeJwks(key)
    verifier = verifier_for(source, clock)
    verifier.verify(token(key))
    clock.advance(REFRESH)
    source.delay = 1.0
    signed = token(key)

    refresher = threading.Thread(target=verifier.verify, args=(signed,))
    refresher.start()
    try:
        deadline = time.monotonic() + 5
        while source.calls < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.calls == 2  # the refresh is under way in that thread
        results = [timed(lambda: verifier.verify(signed)) for _ in range(10)]
    finally:
        refresher.join()
    assert all(result.subject == "acc-1" and elapsed < 0.3 for result, elapsed in results), results
    assert source.calls == 2


# --- identity failing ---------------------------------------------------------------------------------------------

def test_a_failing_source_keeps_the_last_set_for_the_grace_then_refuses(keys, clock, caplog):
    key = keys[0]
    source = FakeJwks(key)
    verifier = verifier_for(source, clock)
    verifier.verify(token(key))
    fetched = clock.now
    source.error = ConnectionError("identity down")
    caplog.set_level(logging.INFO, logger="services.auth")

    clock.now = fetched + REFRESH
    assert verifier.verify(token(key)).subject == "acc-1"  # the refresh failed, the last good set still serves
    assert source.calls == 2
    assert [r.message for r in caplog.records if r.levelno == logging.WARNING] == ["signing keys fetch failed"]

    clock.advance(0.5)
    verifier.verify(token(key))
    assert source.calls == 2  # no new attempt within retry_seconds of a failure

    for moment in (REFRESH + 2, 2 * REFRESH, 4 * REFRESH - 1):
        clock.now = fetched + moment
        assert verifier.verify(token(key)).subject == "acc-1"
        settle(verifier)
    assert source.calls == 5

    clock.now = fetched + 4 * REFRESH  # refresh interval + grace of three intervals
    with pytest.raises(SigningKeysUnavailable):
        verifier.verify(token(key))
    clock.advance(0.1)
    with pytest.raises(SigningKeysUnavailable):
        verifier.verify(token(key))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.message for r in errors] == ["signing keys too old, every token is refused until identity's JWKS "
                                           "answers again"]

    source.error = None
    clock.advance(1)
    assert verifier.verify(token(key)).subject == "acc-1"
    assert "signing keys fetched again" in [r.message for r in caplog.records]


def test_a_malformed_jwks_counts_as_a_failed_refresh(keys, clock):
    key = keys[0]
    source = FakeJwks(key)
    verifier = verifier_for(source, clock)
    verifier.verify(token(key))
    source.keys = []  # {"keys": []}: identity half-configured, not "every key was removed"
    clock.advance(REFRESH)
    assert verifier.verify(token(key)).subject == "acc-1"
    assert verifier._failures == 1


def test_while_identity_fails_refreshes_run_in_the_background(keys, clock):
    key = keys[0]
    source = FakeJwks(key)
    verifier = verifier_for(source, clock)
    verifier.verify(token(key))
    source.error = TimeoutError("identity does not answer")
    clock.advance(REFRESH)
    verifier.verify(token(key))  # this first failure was met in the request's own thread
    assert source.calls == 2

    source.delay = 1.0
    clock.advance(2)
    result, elapsed = timed(lambda: verifier.verify(token(key)))
    assert result.subject == "acc-1" and elapsed < 0.3
    settle(verifier)
    assert source.calls == 3

    source.error, source.delay = None, 0.0
    clock.advance(2)
    verifier.verify(token(key))
    settle(verifier)
    assert verifier._failures == 0 and verifier._fetched_at == clock.now


# --- cold start -----------------------------------------------------------------------------------------------

def test_cold_start_with_a_slow_source_only_one_request_waits_for_the_fetch(keys):
    key = keys[0]
    source = FakeJwks(key)
    source.delay = 1.0
    verifier = verifier_for(source)
    signed = token(key)
    barrier = threading.Barrier(20)
    results = [None] * 20

    def verify(index):
        barrier.wait()
        results[index] = timed(lambda: verifier.verify(signed))

    threads = [threading.Thread(target=verify, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert source.calls == 1
    accepted = [elapsed for result, elapsed in results if not isinstance(result, InvalidToken)]
    refused = [(result, elapsed) for result, elapsed in results if isinstance(result, InvalidToken)]
    assert len(accepted) == 1 and accepted[0] >= 1.0  # the one that fetched
    assert len(refused) == 19
    assert all(isinstance(error, SigningKeysUnavailable) and elapsed < 0.5 for error, elapsed in refused), refused
    assert verifier.verify(signed).subject == "acc-1"


def test_after_a_failed_fetch_the_next_attempt_waits_a_second(keys, clock):
    key = keys[0]
    source = FakeJwks(key)
    source.error = ConnectionError("identity down")
    verifier = verifier_for(source, clock)
    for _ in range(10):
        with pytest.raises(SigningKeysUnavailable):
            verifier.verify(token(key))
        clock.advance(0.09)
    assert source.calls == 1

    clock.advance(0.2)
    with pytest.raises(SigningKeysUnavailable):
        verifier.verify(token(key))
    assert source.calls == 2

    source.error = None
    clock.advance(1)
    assert verifier.verify(token(key)).subject == "acc-1"
    assert source.calls == 3


def test_a_forged_kid_at_cold_start_does_not_fetch_twice(keys, clock):
    source = FakeJwks(keys[0])
    verifier = verifier_for(source, clock)
    forged = token(keys[2])
    for _ in range(20):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
    assert source.calls == 1


# --- through require_token ----------------------------------------------------------------------------------------

def test_require_token_answers_503_when_keys_are_unavailable_and_401_for_a_bad_token(keys, clock):
    key = keys[0]
    source = FakeJwks(key)
    source.error = ConnectionError("identity down")
    verifier = verifier_for(source, clock)
    app = Flask(__name__)
    init_service_app(app, "demo", {})

    @app.get("/private")
    @require_token(lambda: verifier)
    def private():
        return {"ok": True}

    client = app.test_client()
    unavailable = client.get("/private", headers={"Authorization": f"Bearer {token(key)}"})
    assert unavailable.status_code == 503
    assert unavailable.get_json()["error"]["code"] == "auth_unavailable"

    source.error = None
    clock.advance(1)
    assert client.get("/private", headers={"Authorization": f"Bearer {token(key)}"}).status_code == 200
    forged = client.get("/private", headers={"Authorization": f"Bearer {token(keys[2])}"})
    assert (forged.status_code, forged.get_json()["error"]["code"]) == (401, "token_invalid")
