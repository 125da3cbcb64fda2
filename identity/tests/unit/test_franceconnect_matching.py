"""Who a FranceConnect identity may be linked to: the agrément's birth date and birth name (DOMAIN.md)."""
import datetime as dt

import pytest

from identity.franceconnect.domain.matching import (
    agrement_birth_name, birthdates_match, identity_matches_holder, name_words, names_match, parse_birthdate)


@pytest.mark.parametrize("given, known", [
    ("DUPONT", "Dupont"),
    ("HELENE", "Hélène"),
    ("LEFEVRE", "LEFÈVRE"),
    ("NOEL", "NOËL"),
    ("OEILLET", "Œillet"),
    ("LE GALL-MARÉCHAL", "le gall marechal"),
    ("LE GALL MARECHAL", "Le-Gall Maréchal"),
    ("D'ALMEIDA", "D ALMEIDA"),
    ("D'ALMEIDA", "DALMEIDA"),
    ("D’ALMEIDA", "d'Almeida"),           # typographic apostrophe
    ("DA SILVA", "DA-SILVA"),
    ("  MULLER  ", "Müller"),
    ("LEGALL", "LE GALL"),                 # the same letters, the space dropped by one of the systems
])
def test_names_match_whatever_the_accents_case_and_separators(given, known):
    assert names_match(given, known)


@pytest.mark.parametrize("given, known", [
    ("LE GALL", "LE GALL-MARÉCHAL"),      # half of a compound name is how a namesake would pass
    ("MARÉCHAL", "LE GALL-MARÉCHAL"),
    ("MARECHAL LE GALL", "LE GALL MARECHAL"),  # same words, other order: another name
    ("DUPONT", "DUPOND"),
    ("DUPONT", ""),
    ("", "DUPONT"),
    ("---", "---"),                        # nothing but separators is no name
    (None, "DUPONT"),
])
def test_names_do_not_match_otherwise(given, known):
    assert not names_match(given, known)


def test_name_words_fold_accents_ligatures_and_separators():
    assert name_words("Le Gall-Maréchal d'Œillet") == ("le", "gall", "marechal", "d", "oeillet")


def test_the_birth_name_falls_back_to_the_last_name_when_the_pmi_recorded_none():
    assert agrement_birth_name(None, "DUPONT") == "DUPONT"
    assert agrement_birth_name("  ", "DUPONT") == "DUPONT"
    assert agrement_birth_name("LE GALL", "MARTIN") == "LE GALL"


def test_a_birth_date_matches_only_the_same_date():
    assert birthdates_match("1985-04-12", dt.date(1985, 4, 12))
    assert not birthdates_match("1985-04-13", dt.date(1985, 4, 12))


def test_a_partial_birth_date_matches_only_that_exact_date_never_a_range():
    # Born abroad, day and month unknown: FranceConnect says YYYY-01-01.
    assert birthdates_match("1978-01-01", dt.date(1978, 1, 1))
    assert not birthdates_match("1978-01-01", dt.date(1978, 6, 15))
    assert not birthdates_match("1978-01-01", dt.date(1978, 1, 2))
    # Day unknown: YYYY-MM-01.
    assert birthdates_match("1978-06-01", dt.date(1978, 6, 1))
    assert not birthdates_match("1978-06-01", dt.date(1978, 6, 15))


@pytest.mark.parametrize("value", ["", None, 19850412, "1985-4-12", "12/04/1985", "1985-02-30", "1985-04-12T00:00",
                                   "١٩٨٥-٠٤-١٢", "99999-04-12"])
def test_a_malformed_birthdate_matches_nothing(value):
    assert parse_birthdate(value) is None
    assert not birthdates_match(value, dt.date(1985, 4, 12))


def test_the_whole_check_needs_both_the_name_and_the_date():
    claims = {"family_name": "LE GALL MARECHAL", "birthdate": "1979-11-23"}
    assert identity_matches_holder(claims, dt.date(1979, 11, 23), "LE GALL-MARÉCHAL", "MARTIN")
    assert not identity_matches_holder(claims, dt.date(1979, 11, 24), "LE GALL-MARÉCHAL", "MARTIN")
    # The usage name is not the birth name: FranceConnect's family_name is checked against the birth name only.
    assert not identity_matches_holder({"family_name": "MARTIN", "birthdate": "1979-11-23"},
                                       dt.date(1979, 11, 23), "LE GALL-MARÉCHAL", "MARTIN")
    assert identity_matches_holder({"family_name": "DUPONT", "birthdate": "1985-04-12"},
                                   dt.date(1985, 4, 12), None, "Dupont")
    assert not identity_matches_holder({}, dt.date(1985, 4, 12), None, "Dupont")
