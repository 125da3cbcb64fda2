"""Signing keys rotate without downtime: a new key is published before it signs, the replaced one stays published
while its tokens live, and `keys retire` removes it afterwards (verifiers then refuse its tokens within their JWKS
refresh interval)."""
from __future__ import annotations

import datetime as dt

import pytest

from identity.keys.cli import keys_command
from services.auth import InvalidToken, TokenVerifier, issue_token

R = 300.0  # the verifiers' JWKS refresh interval (the default JWKS_REFRESH_SECONDS)
AHEAD = R + 300  # and what an HTTP cache may add (the JWKS's max-age): how long a new key waits before it signs


class Monotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def keys(container):
    keys = container.keys
    keys.clock = WallClock()
    keys._reload_seconds = 0  # each signature reads the table: the test moves time, not the process
    return keys


@pytest.fixture
def verifier(client, settings):
    """A service's verifier, fetching identity's JWKS over its HTTP route, on a clock the test moves."""
    clock = Monotonic()
    verifier = TokenVerifier("", settings.token_issuer, settings.token_audience, refresh_seconds=R,
                             jwks_source=lambda: client.get("/.well-known/jwks.json").json, clock=clock)
    verifier.test_clock = clock
    return verifier


def sign(keys, settings) -> str:
    return issue_token(keys.signing_key(), subject="acc-1", role="assmat", issuer=settings.token_issuer,
                       audience=settings.token_audience, lifetime_seconds=900)


def kids(client) -> list[str]:
    return [key["kid"] for key in client.get("/.well-known/jwks.json").json["keys"]]


def test_a_rotated_key_is_published_at_once_and_signs_one_refresh_interval_later(client, keys, settings):
    first = keys.signing_key().kid
    added = keys.rotate()

    assert kids(client) == [first, added.kid]
    assert keys.signing_key().kid == first          # not yet: some verifiers may not have fetched it
    keys.clock.advance(AHEAD + 1)
    assert keys.signing_key().kid == added.kid      # every verifier has had one refresh to see it


def test_a_token_signed_before_rotation_verifies_after_and_is_refused_once_its_key_is_retired(
        client, keys, settings, verifier):
    before = sign(keys, settings)
    assert verifier.verify(before).subject == "acc-1"

    keys.rotate()
    keys.clock.advance(AHEAD + 1)
    after = sign(keys, settings)
    verifier.test_clock.now += R  # the verifier's next refresh: both keys
    assert verifier.verify(before).subject == "acc-1"
    assert verifier.verify(after).subject == "acc-1"

    assert keys.retire() == []  # the old key's tokens may still be valid: it stays
    keys.clock.advance(900 + AHEAD)
    assert keys.retire() == []  # one access-token lifetime + one publication delay is not quite enough margin
    keys.clock.advance(60)
    [retired] = keys.retire()
    assert retired not in kids(client) and len(kids(client)) == 1

    assert verifier.verify(before).subject == "acc-1"  # its cached set, until its refresh interval ends...
    verifier.test_clock.now += R
    with pytest.raises(InvalidToken):
        verifier.verify(before)                         # ...then refused
    assert verifier.verify(after).subject == "acc-1"    # the new key's tokens are untouched


def test_the_key_that_signs_is_never_retired(keys):
    only = keys.signing_key().kid
    keys.clock.advance(10 * 86400)
    assert keys.retire() == [] and keys.signing_key().kid == only
    keys.rotate()  # a new key not yet signing: the old one still signs and stays
    keys.clock.advance(AHEAD + 1)
    assert keys.signing_key().kid != only  # now the new one signs...
    assert keys.retire() == []             # ...and the old one has not been replaced long enough


def test_the_keys_command_rotates_lists_and_retires(settings, container, capsys):
    container.keys.signing_key()
    assert keys_command(settings, ["rotate"]) == 0
    assert "Nouvelle clé" in capsys.readouterr().out
    assert keys_command(settings, ["list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2 and "signs" in listing[0] and "signs from" in listing[1]
    assert keys_command(settings, ["retire"]) == 0
    assert "Aucune clé à retirer" in capsys.readouterr().out
