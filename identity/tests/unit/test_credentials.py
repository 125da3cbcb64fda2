import datetime as dt
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


@pytest.mark.parametrize("password", ["un mot de passe long", "é" * 11 + "a", "pas de règle " * 15 + "xyzab"])
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


def test_production_hashing_uses_owasp_argon2id_parameters():
    parameters = credentials._hasher
    assert (parameters.type.name, parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        "ID", 19 * 1024, 2, 1)


def test_a_hash_made_with_other_parameters_needs_rehashing():
    from argon2 import PasswordHasher
    old = PasswordHasher().hash("correct horse battery")  # argon2-cffi's defaults, used before
    assert credentials.password_needs_rehash(old)
    assert not credentials.password_needs_rehash(hash_password("correct horse battery"))


BIRTH = dt.date(1980, 5, 17)


@pytest.mark.parametrize("password, code", [
    ("aaaaaaaaaaaaaa", "repetitive_password"),
    ("############", "repetitive_password"),
    ("azertyuiop123", "common_password"),
    ("Motdepasse2024!", "common_password"),
    ("azertyazerty", "common_password"),
    ("abcabcabcabc", "common_password"),
    ("iloveyou12345", "common_password"),
    ("mon dossier 280153 !", "password_contains_identifier"),
    ("Marie.Dupont-Chartres", "password_contains_identifier"),
    ("dupont pour toujours", "password_contains_identifier"),
    ("née le 17051980 !", "password_contains_birth_date"),
    ("née le 17/05/1980", "password_contains_birth_date"),
    ("date 1980-05-17 ok", "password_contains_birth_date"),
    ("bonjour 17.05.80 !", "password_contains_birth_date"),
    ("le 17/5/1980 et alors", "password_contains_birth_date"),
    ("mon espace ASSMAT 28", "password_contains_portal_words"),
    ("la PMI de chez moi", "password_contains_portal_words"),
    ("Eure-et-Loir forever", "password_contains_portal_words"),
    ("Éure et loir forever", "password_contains_portal_words"),
])
def test_password_policy_refuses_what_an_attacker_tries_first(password, code):
    with pytest.raises(Refusal) as refused:
        check_password_policy(password, identifiers=("280153", "marie.dupont@orange.fr"), birth_date=BIRTH,
                              extra_words=("Eure-et-Loir",))
    assert refused.value.code == code
    assert refused.value.message  # in French, for the page


@pytest.mark.parametrize("password", ["correct horse battery", "un chat sur le toit 1980", "Tartine&Confiture!",
                                      "mai 17 est ma date"])
def test_password_policy_accepts_a_passphrase_without_composition_rules(password):
    assert check_password_policy(password, identifiers=("280153", "marie.dupont@orange.fr"), birth_date=BIRTH,
                                 extra_words=("Eure-et-Loir",)) == password


def test_common_password_list_is_shipped_and_large():
    common = credentials.common_passwords()
    assert len(common) > 20000 and "azertyuiop" in common and "motdepasse" in common
