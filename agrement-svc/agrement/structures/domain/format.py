"""The PMI's structures extract (STRUCTURES_FORMAT.md): one `;`-separated UTF-8 CSV row per MAM or RPE.

Read like the agrément extract (same encoding, separator, cell clean-up, one rejection per row with every reason in
French), and keyed by type + identifier. The e-mail is required: it is the login of the structure's account.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

from agrement.extract.domain.format import (
    ExtractFormatError, Rejection, _insee_code, _normalise_phone, decode_extract, read_header)
from services.communes import Commune, load_communes

COLUMNS = ("type", "structure_id", "name", "email", "phone", "address_line", "postcode", "commune_insee",
           "communes", "opening_hours", "status")
OPTIONAL_COLUMNS = frozenset({"phone", "opening_hours", "status"})
HEADER = ";".join(COLUMNS)
SEPARATOR = ";"
KINDS = {"mam": "mam", "rpe": "rpe"}
STATUSES = {"": "open", "open": "open", "ouverte": "open", "ouvert": "open", "closed": "closed", "fermee": "closed",
            "fermée": "closed", "ferme": "closed", "fermé": "closed"}
NAME_MAX, TEXT_MAX = 100, 200

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@(?:[\w-]+\.)+[\w-]{2,}")
_POSTCODE = re.compile(r"[0-9]{5}")
_SPACES = re.compile(r"\s+")
_COMMUNE_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class StructureRecord:
    kind: str                      # mam | rpe
    structure_id: str
    name: str
    email: str
    phone: str | None = None
    address_line: str | None = None
    postcode: str | None = None
    commune_insee: str | None = None
    communes: tuple[str, ...] = field(default_factory=tuple)   # RPE: the communes it covers
    opening_hours: str | None = None
    status: str = "open"           # open | closed

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.structure_id}"


def _read_header(header: list[str] | None) -> list[str]:
    return read_header(header, columns=COLUMNS, optional=OPTIONAL_COLUMNS, known=COLUMNS, expected=HEADER)


def _text(raw: str) -> str:
    return _SPACES.sub(" ", raw).strip()


def _validate(cells: dict[str, str], communes: Mapping[str, Commune], seen_keys: dict[str, int],
              seen_emails: dict[str, int], line: int) -> StructureRecord | Rejection:
    reasons: list[str] = []
    kind = KINDS.get(cells["type"].lower())
    if kind is None:
        reasons.append(f"type : « {cells['type'][:20]} » n'est pas MAM ou RPE")
    structure_id = cells["structure_id"]
    if not _ID.fullmatch(structure_id):
        reasons.append("structure_id : 1 à 32 lettres, chiffres, « - », « _ » ou « . » attendus")
    key = f"{kind}:{structure_id}"
    if kind and structure_id and key in seen_keys:
        reasons.append(f"structure_id : la structure {structure_id} figure déjà ligne {seen_keys[key]}")
    name = _text(cells["name"])
    if not name:
        reasons.append("name : le nom est obligatoire")
    elif len(name) > NAME_MAX:
        reasons.append(f"name : {NAME_MAX} caractères au plus")
    email = cells["email"].strip().lower()
    if not email:
        reasons.append("email : obligatoire (c'est l'identifiant de connexion de la structure)")
    elif len(email) > 254 or not _EMAIL.fullmatch(email):
        reasons.append(f"email : « {email[:40]} » n'est pas une adresse e-mail valide")
    elif email in seen_emails:
        reasons.append(f"email : adresse déjà donnée à la structure de la ligne {seen_emails[email]} (une adresse "
                       "ne peut servir qu'à un compte)")
    phone = None
    if cells["phone"]:
        phone = _normalise_phone(cells["phone"])
        if phone is None:
            reasons.append("phone : numéro français à 10 chiffres attendu")
    address_line = _text(cells["address_line"]) or None
    postcode = cells["postcode"] or None
    commune_insee = None
    if cells["commune_insee"]:
        commune_insee = _insee_code(cells["commune_insee"])
        if commune_insee is None or commune_insee not in communes:
            reasons.append(f"commune_insee : « {cells['commune_insee'][:10]} » n'est pas un code INSEE connu")
    if postcode and not _POSTCODE.fullmatch(postcode):
        reasons.append("postcode : 5 chiffres attendus")
    if address_line and len(address_line) > TEXT_MAX:
        reasons.append(f"address_line : {TEXT_MAX} caractères au plus")
    covered: list[str] = []
    for raw in filter(None, _COMMUNE_SEPARATORS.split(cells["communes"])):
        code = _insee_code(raw)
        if code is None or code not in communes:
            reasons.append(f"communes : « {raw[:10]} » n'est pas un code INSEE connu")
        elif code not in covered:
            covered.append(code)
    if kind == "mam":
        if not (address_line and postcode and cells["commune_insee"]):
            reasons.append("une MAM a une adresse : address_line, postcode et commune_insee sont obligatoires")
        if covered:
            reasons.append("communes : réservé aux RPE (une MAM a une seule adresse)")
    if kind == "rpe" and not covered:
        reasons.append("communes : un RPE couvre au moins une commune (codes INSEE séparés par des virgules)")
    opening_hours = _text(cells["opening_hours"]) or None
    if opening_hours and len(opening_hours) > TEXT_MAX:
        reasons.append(f"opening_hours : {TEXT_MAX} caractères au plus")
    status = STATUSES.get(cells["status"].lower())
    if status is None:
        reasons.append("status : « open » ou « closed » attendu")
    if reasons:
        return Rejection(line, None, reasons)
    seen_keys[key] = line
    seen_emails[email] = line
    return StructureRecord(kind=kind, structure_id=structure_id, name=name, email=email, phone=phone,
                           address_line=address_line, postcode=postcode, commune_insee=commune_insee,
                           communes=tuple(covered), opening_hours=opening_hours, status=status)


def iter_structures(source: str | bytes | Iterable[str], *, communes: Mapping[str, Commune] | None = None,
                    ) -> Iterator[tuple[int, StructureRecord | Rejection]]:
    """Yield (line, record or rejection) per data row; ExtractFormatError for a file that cannot be read."""
    if isinstance(source, bytes):
        source = decode_extract(source)
    if isinstance(source, str):
        source = io.StringIO(source.removeprefix("\ufeff"), newline="")
    communes = load_communes() if communes is None else communes
    reader = csv.reader(source, delimiter=SEPARATOR)
    try:
        names = _read_header(next(reader, None))
    except csv.Error as error:
        raise ExtractFormatError(f"ligne 1 : CSV illisible ({error})") from None
    width = len(names)
    seen_keys: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
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
            yield line, Rejection(line, None, [f"{len(cells)} colonnes au lieu de {width} (séparateur « ; »)"])
            continue
        values = {column: "" for column in COLUMNS}
        values.update({name: cell.strip() for name, cell in zip(names, cells)})
        yield line, _validate(values, communes, seen_keys, seen_emails, line)


def format_structures(records: Iterable[StructureRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([record.kind.upper(), record.structure_id, record.name, record.email, record.phone or "",
                         record.address_line or "", record.postcode or "", record.commune_insee or "",
                         ",".join(record.communes), record.opening_hours or "",
                         record.status])
    return out.getvalue()


def structure_to_dict(record: StructureRecord) -> dict:
    data = asdict(record)
    data["communes"] = list(record.communes)
    return {"structure_key": record.key, **data}


def structure_fingerprint(record: StructureRecord) -> str:
    canonical = json.dumps(structure_to_dict(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
