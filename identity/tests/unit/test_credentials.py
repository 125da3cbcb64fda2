import hashlib

import pytest

from identity.accounts.domain import credentials
from identity.accounts.domain.credentials import (
    check_password_policy, hash_password, hash_secret, mask_email, new_secret, normalize_email, parse_birth_date,
    parse_pmi_number, verify_password)
from identity.accounts.domain.refusals import Refusal


@pytest.mark.parametrize("typed, number", [("123456", "123456"), (" 123456 ", "123456"), ("12 34 56", "123456"),
                                           ("000042", "000042")])
def test_pmi_number_is_six_digits_spaces_forgiven(typed, number):
    assert parse_pmi_number(typed) == number


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "", "١٢٣٤٥٦", "１２３４５６", "12-34-56", 123456, None])
def test_anything_else_is_not_a_pmi_number(typed):
    with pytest.raises(Refusal) as refused:
        parse_pmi_number(typed)
    assert refused.value.code == "invalid_pmi_number"
    assert refused.value.message == "Le numéro de dossier PMI comporte 6 chiffres."


def test_birth_date_is_an_iso_calendar_date():
    assert parse_birth_date("1980-05-17").isoformat() == "1980-05-17"


@pytest.mark.parametrize("typed", ["17/05/1980", "1980-02-30", "19800517", "1980-5-17", "", 19800517, None])
def test_birth_date_refuses_other_shapes_and_impossible_dates(typed):
    with pytest.raises(Refusal) as refused:
        parse_birth_date(typed)
    assert refused.value.code == "invalid_birth_date"


@pytest.mark.parametrize("typed, stored", [("Marie.Dupont@Orange.FR", "marie.dupont@orange.fr"),
                                           ("  m+pmi@wanadoo.fr ", "m+pmi@wanadoo.fr"),
                                           ("élodie@laposte.net", "élodie@laposte.net")])
def test_email_is_stored_lower_case(typed, stored):
    assert normalize_email(typed) == stored


@pytest.mark.parametrize("typed", ["marie", "marie@", "@orange.fr", "marie@orange", "marie dupont@orange.fr",
                                   "marie@@orange.fr", "Marie <marie@orange.fr>", "a,b@orange.fr",
                                   "marie@orange..fr", "x" * 250 + "@orange.fr", 42])
def test_email_refuses_what_is_not_an_address(typed):
    with pytest.raises(Refusal) as refused:
        normalize_email(typed)
    assert refused.value.code == "invalid_email"


def test_masked_email_keeps_the_provider_and_hides_the_rest():
    assert mask_email("marie.dupont@orange.fr") == "ma•••@orange.fr"
    assert mask_email("abc@free.fr") == "a•••@free.fr"


@pytest.mark.parametrize("password", ["a" * 12, "é" * 12, "x" * 200])
def test_password_of_12_to_200_characters_is_accepted(password):
    assert check_password_policy(password) == password


def test_password_under_12_characters_is_weak():
    with pytest.raises(Refusal) as refused:
        check_password_policy("a" * 11)
    assert (refused.value.code, refused.value.message) == (
        "weak_password", "Le mot de passe doit comporter au moins 12 caractères.")


def test_password_over_200_characters_is_refused():
    with pytest.raises(Refusal) as refused:
        check_password_policy("a" * 201)
    assert refused.value.code == "password_too_long"


def test_password_is_hashed_with_argon2id_and_verified():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "Correct horse battery")
    assert not verify_password(stored, None)


class SpyHasher:
    def __init__(self, hasher):
        self.hasher, self.checked = hasher, []

    def hash(self, password):
        return self.hasher.hash(password)

    def verify(self, stored, password):
        self.checked.append(stored)
        return self.hasher.verify(stored, password)


def test_unknown_account_and_oversized_password_cost_one_hash_check_like_a_known_one(monkeypatch):
    spy = SpyHasher(credentials._hasher)
    monkeypatch.setattr(credentials, "_hasher", spy)
    assert not verify_password(None, "correct horse battery")
    assert not verify_password(hash_password("x" * 201), "x" * 201)
    assert len(spy.checked) == 2 and all(stored.startswith("$argon2id$") for stored in spy.checked)


def test_secrets_are_random_and_only_their_sha256_is_kept():
    first, second = new_secret(), new_secret()
    assert first != second and len(first) >= 43
    assert hash_secret(first) == hashlib.sha256(first.encode()).hexdigest()
    assert hash_secret(first) != hash_secret(second)


def test_production_hashing_cost_is_at_least_rfc_9106_low_memory_profile():
    parameters = credentials._hasher
    assert (parameters.type.name, parameters.memory_cost >= 65536, parameters.time_cost >= 3) == ("ID", True, True)
