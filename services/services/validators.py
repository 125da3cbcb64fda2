"""The written form of the identifiers that cross services: the PMI number, a commune's INSEE code, a postcode.

What counts as well formed is decided here, once; each service still says no in its own words to its own audience
(a line of the import report, a form's error, an API error code, an InvalidEvent), so these functions only answer
yes or no, or give the canonical form.

Two kinds of function for each identifier:
- `is_...(value)`: the value already is in canonical form (for what a program sent: event subjects and fields);
- `parse_...(value)`: what a person typed or a file held, normalised (surrounding whitespace dropped, Corsica's
  letters upper-cased) and returned in canonical form, or ValueError with a French message saying what is expected.

Digits are the ASCII digits 0-9 only. `str.isdigit`, `int()` and the regex `\\d` also accept the digits of other
scripts ('١٢٣٤٥٦', full-width '１２３４５６'), which no PMI file, INSEE code or postcode contains: a number typed that
way is refused rather than silently read as another.
"""
from __future__ import annotations

import re

__all__ = [
    "PMI_NUMBER_LENGTH", "is_digits", "is_insee_code", "is_pmi_number", "is_postcode", "parse_insee_code",
    "parse_pmi_number", "parse_postcode",
]

PMI_NUMBER_LENGTH = 6

_DIGITS = re.compile(r"[0-9]+")
_PMI_NUMBER = re.compile(r"[0-9]{6}")
# Five digits, or for Corsica's two départements 2A and 2B followed by three digits (INSEE's official geographic
# code; the postcode of a Corsican commune, 20xxx, is digits only).
_INSEE_CODE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_POSTCODE = re.compile(r"[0-9]{5}")


def is_digits(value: object, length: int | None = None) -> bool:
    """Only ASCII digits, at least one (exactly `length` when given): what `str.isdigit` should have meant."""
    return (isinstance(value, str) and _DIGITS.fullmatch(value) is not None
            and (length is None or len(value) == length))


def is_pmi_number(value: object) -> bool:
    """The numéro de dossier PMI in canonical form: exactly 6 ASCII digits, leading zeros included."""
    return isinstance(value, str) and _PMI_NUMBER.fullmatch(value) is not None


def is_insee_code(value: object) -> bool:
    """A commune's INSEE code in canonical form: 5 ASCII digits, or 2A/2B (upper case) and 3 digits."""
    return isinstance(value, str) and _INSEE_CODE.fullmatch(value) is not None


def is_postcode(value: object) -> bool:
    """A French postcode in canonical form: 5 ASCII digits."""
    return isinstance(value, str) and _POSTCODE.fullmatch(value) is not None


def parse_pmi_number(value: object, *, allow_spaces: bool = False) -> str:
    """The 6-digit PMI number in `value`, surrounding whitespace dropped. `allow_spaces`: spaces between the digits
    are dropped too ('28 01 53'), for a number a person types as it is printed on a letter."""
    if isinstance(value, str):
        number = "".join(value.split()) if allow_spaces else value.strip()
        if is_pmi_number(number):
            return number
    raise ValueError("numéro de dossier PMI : 6 chiffres attendus (ex. 280153)")


def parse_insee_code(value: object) -> str:
    """The INSEE code in `value`, surrounding whitespace dropped and Corsica's letter upper-cased ('2a004' →
    '2A004')."""
    if isinstance(value, str):
        code = value.strip()
        if code.isascii():
            code = code.upper()
            if is_insee_code(code):
                return code
    raise ValueError("code INSEE de la commune : 5 caractères attendus, des chiffres, ou 2A ou 2B suivi de "
                     "3 chiffres pour la Corse (ex. 28085, 2A004)")


def parse_postcode(value: object) -> str:
    """The 5-digit postcode in `value`, surrounding whitespace dropped."""
    if isinstance(value, str):
        code = value.strip()
        if is_postcode(code):
            return code
    raise ValueError("code postal : 5 chiffres attendus (ex. 28000)")
