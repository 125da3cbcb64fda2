"""The forms of the PMI number, the INSEE code and the postcode, decided once for every service."""
import pytest

from services.validators import (
    is_digits, is_insee_code, is_pmi_number, is_postcode, parse_insee_code, parse_pmi_number, parse_postcode)

# Digits of other scripts that str.isdigit() (and int(), and the regex \d) accept: none is a digit here.
ARABIC_INDIC = "١٢٣٤٥٦"
EXTENDED_ARABIC_INDIC = "۱۲۳۴۵۶"
FULL_WIDTH = "１２３４５６"
DEVANAGARI = "१२३४५६"
SUPERSCRIPT = "¹²³⁴⁵⁶"  # isdigit() but not isdecimal()
FOREIGN_DIGITS = [ARABIC_INDIC, EXTENDED_ARABIC_INDIC, FULL_WIDTH, DEVANAGARI, SUPERSCRIPT]


def test_the_foreign_digits_are_ones_str_isdigit_accepts():
    assert all(digits.isdigit() for digits in FOREIGN_DIGITS)  # the trap these validators avoid


# --- PMI number ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["280153", "000042", "000000", "999999"])
def test_a_pmi_number_is_six_digits_leading_zeros_kept(value):
    assert is_pmi_number(value)
    assert parse_pmi_number(value) == value


@pytest.mark.parametrize("value", ["28015", "2801530", "28015a", "", "28 01 53", " 280153", "280153\n",
                                   *FOREIGN_DIGITS, "28015٣", 280153, None, b"280153"])
def test_anything_else_is_not_a_pmi_number_in_canonical_form(value):
    assert not is_pmi_number(value)


@pytest.mark.parametrize("value", [" 280153", "280153 ", "\t280153\n", "\u00a0280153\u00a0"])
def test_parsing_drops_the_whitespace_around_a_pmi_number(value):
    assert parse_pmi_number(value) == "280153"


def test_spaces_between_the_digits_are_dropped_only_when_allowed():
    assert parse_pmi_number("28 01 53", allow_spaces=True) == "280153"
    assert parse_pmi_number(" 280 153 ", allow_spaces=True) == "280153"
    with pytest.raises(ValueError):
        parse_pmi_number("28 01 53")


@pytest.mark.parametrize("value", ["28015", "2801530", "28015a", "", "   ", "28-01-53", *FOREIGN_DIGITS,
                                   "２８ ０１ ５３", 280153, None])
def test_parsing_refuses_what_is_not_a_pmi_number_in_french(value):
    for allow_spaces in (False, True):
        with pytest.raises(ValueError, match="numéro de dossier PMI : 6 chiffres attendus"):
            parse_pmi_number(value, allow_spaces=allow_spaces)


# --- INSEE code ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["28085", "01001", "75056", "97411", "2A004", "2B033"])
def test_an_insee_code_is_five_digits_or_2a_2b_for_corsica(value):
    assert is_insee_code(value)
    assert parse_insee_code(value) == value


@pytest.mark.parametrize("value", ["2808", "280850", "2a004", "2C004", "2A04", "2A0045", "A2004", "2AB04", "",
                                   "28085\n", " 28085", "٢٨٠٨٥", "２８０８５", "2Ａ004", 28085, None])
def test_anything_else_is_not_an_insee_code_in_canonical_form(value):
    assert not is_insee_code(value)


@pytest.mark.parametrize("value, code", [(" 28085 ", "28085"), ("2a004", "2A004"), (" 2b033\t", "2B033"),
                                         ("01001", "01001")])
def test_parsing_an_insee_code_drops_whitespace_and_upper_cases_corsica(value, code):
    assert parse_insee_code(value) == code


@pytest.mark.parametrize("value", ["2808", "280850", "2C004", "28 085", "", "٢٨٠٨٥", "２８０８５", "２Ａ００４",
                                   28085, None])
def test_parsing_refuses_what_is_not_an_insee_code_in_french(value):
    with pytest.raises(ValueError, match="code INSEE de la commune : 5 caractères attendus"):
        parse_insee_code(value)


# --- postcode ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["28000", "01000", "20000", "97400"])
def test_a_postcode_is_five_digits_leading_zero_kept(value):
    assert is_postcode(value)
    assert parse_postcode(value) == value


@pytest.mark.parametrize("value", ["2800", "280000", "2A000", "28 000", "", "28000\n", "٢٨٠٠٠", "２８０００",
                                   28000, None])
def test_anything_else_is_not_a_postcode(value):
    assert not is_postcode(value)


def test_parsing_a_postcode_drops_the_whitespace_around_it_only():
    assert parse_postcode(" 28000\u00a0") == "28000"
    for value in ("28 000", "2A000", "２８０００", "", None):
        with pytest.raises(ValueError, match="code postal : 5 chiffres attendus"):
            parse_postcode(value)


# --- digits --------------------------------------------------------------------------------------------------

def test_digits_are_ascii_digits_only():
    assert is_digits("0") and is_digits("28") and is_digits("0123456789")
    assert is_digits("28000", length=5) and not is_digits("2800", length=5)
    for value in ("", " 28", "28 ", "2a", "-1", "+1", "1.5", "28\n", *FOREIGN_DIGITS, 28, None):
        assert not is_digits(value)
