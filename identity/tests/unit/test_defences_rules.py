"""The throttling rules and the captcha's alphabet, without a store."""
import pytest

from identity.captcha.domain import matches, normalize
from identity.defences.domain import POLICIES, captcha_required, is_spike, policy


def test_step_1_always_asks_the_captcha_and_login_after_a_first_failure():
    assert captcha_required(POLICIES["activation_check"], 0, 0, 0)
    login = POLICIES["login"]
    assert not captcha_required(login, 0, 0, 0)
    assert captcha_required(login, 1, 0, 0)             # the identifier failed once
    assert not captcha_required(login, 0, 2, 0)
    assert captcha_required(login, 0, 3, 0)             # the address failed three times, any identifiers
    assert captcha_required(login, 0, 0, 21)            # a flood everywhere: everyone gets it
    assert not captcha_required(POLICIES["resend"], 9, 9, 999)


def test_every_action_counts_what_it_should():
    assert {name for name, rule in POLICIES.items() if rule.counts == "uses"} == {
        "activation_complete", "resend", "reset", "mail", "captcha"}
    assert POLICIES["mail"].global_limit == 1000
    with pytest.raises(ValueError):
        policy("unknown")


def test_a_spike_is_told_once_per_wave():
    told = [count for count in range(1, 700) if is_spike(count, 30)]
    assert told == [30, 300, 600]


@pytest.mark.parametrize("typed", ["AK3FX", "ak3fx", " a k 3 f x ", "Ak-3Fx"])
def test_an_answer_is_read_without_case_spaces_or_dashes(typed):
    assert matches("AK3FX", typed)


@pytest.mark.parametrize("typed", ["AK3F", "AK3FXX", "", None, 12345, "x" * 100])
def test_anything_else_does_not_match(typed):
    assert not matches("AK3FX", typed)
    assert normalize("x" * 100) == ""


def test_the_audit_keeps_no_clear_identifier_and_no_secret():
    from identity.audit.domain import clean_detail, masked_identifier
    assert masked_identifier("280153").startswith("28••53#") and "280153" not in masked_identifier("280153")
    assert masked_identifier("Marie.Dupont@Orange.fr").startswith("ma•••@orange.fr#")
    assert masked_identifier("280153") != masked_identifier("280154")
    assert masked_identifier(None) is None
    detail = clean_detail({"reason": "weak_password", "password": "x", "captcha_answer": "AK3FX", "ticket": "t"})
    assert detail == '{"reason": "weak_password"}'
