"""When a FranceConnect identity is the holder of an agrément (DOMAIN.md: link only after the PMI-number step, and
check the birth date and birth name against the agrément record).

FranceConnect's `family_name` is the birth name (nom de naissance) as the civil registry spells it; the PMI's
extract has the birth name when it differs from the usage name, else only the last name. Both are typed by people
and systems that disagree on accents, case and separators, so names are compared after folding those away:

- accents and ligatures: "Hélène" = "HELENE", "Œillet" = "OEILLET", "Müller" = "MULLER";
- case;
- hyphens, spaces, apostrophes and other punctuation are one separator: "LE GALL-MARÉCHAL" = "le gall marechal" =
  "Le-Gall Maréchal", "D'ALMEIDA" = "D ALMEIDA" = "DALMEIDA" (an apostrophe is often dropped with its space);
- the words must be the same and in the same order: a compound birth name is not matched by one of its parts
  ("LE GALL" is not "LE GALL-MARÉCHAL"), since half a name is how a namesake would pass.

The birth date must be the same date. FranceConnect gives `YYYY-01-01` or `YYYY-MM-01` when the day or month is not
known (people born abroad); such a date matches only an agrément holding that exact date, never any day of the
year: the PMI recorded the same convention or the person must have her record corrected.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata

# Letters that NFKD does not decompose into a base letter and an accent.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O",
                            "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"})
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def name_words(name: str | None) -> tuple[str, ...]:
    """A name as the words compared: no accent, lower case, split on anything that is not a letter or digit."""
    if not name:
        return ()
    decomposed = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return tuple(word for word in _SEPARATORS.split(bare) if word)


def names_match(family_name: str | None, birth_name: str | None) -> bool:
    """FranceConnect's family_name against the agrément's birth name: same words in the same order; or the same
    letters once separators are dropped (an apostrophe or hyphen written, or not, between the same letters)."""
    given, known = name_words(family_name), name_words(birth_name)
    if not given or not known:
        return False
    return given == known or "".join(given) == "".join(known)


def parse_birthdate(value) -> dt.date | None:
    """FranceConnect's `birthdate` (YYYY-MM-DD), or None when absent or malformed."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def birthdates_match(birthdate, agrement_birth_date: dt.date) -> bool:
    """Only the same date; a partial date (YYYY-01-01, YYYY-MM-01) is compared as it is, never as a range."""
    given = parse_birthdate(birthdate)
    return given is not None and given == agrement_birth_date


def agrement_birth_name(birth_name: str | None, last_name: str) -> str:
    """The name FranceConnect's family_name is checked against: the birth name, or the last name when the PMI did
    not record a separate birth name (it then is the birth name)."""
    return birth_name if birth_name and birth_name.strip() else last_name


def identity_matches_holder(claims: dict, birth_date: dt.date, birth_name: str | None, last_name: str) -> bool:
    """The whole check: FranceConnect's birthdate and family_name against the agrément's birth date and name."""
    return (birthdates_match(claims.get("birthdate"), birth_date)
            and names_match(claims.get("family_name"), agrement_birth_name(birth_name, last_name)))
