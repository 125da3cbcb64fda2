"""Folding names for search and sorting: accents, case and punctuation do not matter to a parent typing."""
from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[-'’\s]+")
_SAINT = re.compile(r"\b(saint|sainte)\b")


def fold(text: str) -> str:
    """'Lèves' -> 'leves', 'LE GOFF-ÉLOI' -> 'le goff eloi'; ligatures spelled out (NFKD leaves 'œ' whole)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE")
                                       .replace("æ", "ae").replace("Æ", "AE"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _SEPARATORS.sub(" ", plain).strip()


def commune_key(name: str) -> str:
    """A commune's folded name, 'Saint' and 'Sainte' abbreviated so that 'St-Prest' finds 'Saint-Prest'."""
    return _SAINT.sub(lambda match: "st" if match.group(1) == "saint" else "ste", fold(name))
