"""TOTP against RFC 6238's test vectors, the drift window and the refusal of a step already used."""
import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from identity.staff.domain import StaffInputError, check_roles, hotp, matching_step, otpauth_uri, totp

# RFC 6238 appendix B, SHA-1: the secret is the ASCII "12345678901234567890"; 8-digit values, we keep the last 6.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
               (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize(("seconds", "expected"), RFC_VECTORS)
def test_rfc_6238_vectors(seconds, expected):
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    assert totp(RFC_SECRET, moment) == expected[-6:]


def test_rfc_4226_hotp_vectors():
    assert [hotp(RFC_SECRET, counter) for counter in range(3)] == ["755224", "287082", "359152"]


def test_a_code_matches_its_step_and_one_step_either_side_but_no_further():
    now = dt.datetime(2026, 12, 1, 12, 0, 15, tzinfo=dt.timezone.utc)
    step = int(now.timestamp()) // 30
    code = totp(RFC_SECRET, now)
    assert matching_step(RFC_SECRET, code, now, None) == step
    assert matching_step(RFC_SECRET, code, now + dt.timedelta(seconds=30), None) == step
    assert matching_step(RFC_SECRET, code, now - dt.timedelta(seconds=30), None) == step
    assert matching_step(RFC_SECRET, code, now + dt.timedelta(seconds=61), None) is None
    assert matching_step(RFC_SECRET, f"{code[:3]} {code[3:]}", now, None) == step  # as an app shows it


def test_a_step_already_used_never_matches_again():
    now = dt.datetime(2026, 12, 1, 12, 0, 15, tzinfo=dt.timezone.utc)
    step = int(now.timestamp()) // 30
    assert matching_step(RFC_SECRET, totp(RFC_SECRET, now), now, step) is None
    assert matching_step(RFC_SECRET, totp(RFC_SECRET, now), now, step - 1) == step


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６", None, 123456, "²²²²²²"])
def test_malformed_codes_match_nothing(code):
    assert matching_step(RFC_SECRET, code, dt.datetime.now(dt.timezone.utc), None) is None


def test_the_otpauth_uri_carries_the_secret_and_the_parameters():
    uri = otpauth_uri(RFC_SECRET, "agent@cd28.fr")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query == {"secret": RFC_SECRET, "issuer": "Portail assmat PMI", "algorithm": "SHA1", "digits": "6",
                     "period": "30"}
    assert parts.path.endswith("agent%40cd28.fr")


def test_roles_are_checked_and_an_agent_needs_a_circonscription():
    assert check_roles(["pmi_central", "support", "pmi_central"], []) == ["pmi_central", "support"]
    with pytest.raises(StaffInputError):
        check_roles(["pmi_agent"], [])
    with pytest.raises(StaffInputError):
        check_roles(["root"], [])
    assert check_roles(["pmi_agent"], ["Chartres"]) == ["pmi_agent"]
