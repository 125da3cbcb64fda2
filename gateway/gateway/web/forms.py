"""What the forms of the site share: the submitted values, the errors per field, dates given in three fields; and
the checks every request gets before a page sees it (hostile input answers 400 in French, never 500).

People type into forms: a refusal there is shown next to the field, with what was typed kept (never a password).
What no person types (control characters in an address, bytes that are not UTF-8, a return address that would
become a header, a page number in superscript digits, a value the size of a book) is refused as a whole with a
400 page, before any service is called.
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote_to_bytes

from gateway.clients import DownstreamError
from services.validators import parse_pmi_number


class Form:
    """The values of a posted form (stripped; secrets untouched) and an error message per field.

    `fields` lists the inputs in page order: the error summary follows it, and a refusal from a service that names
    no field is put on the first one so that it is shown next to a field all the same.
    """

    def __init__(self, fields: tuple[str, ...], data, secret: tuple[str, ...] = ()):
        self.fields = fields
        self.values = {name: (data.get(name, "") if name in secret else data.get(name, "").strip())
                       for name in fields}
        self.secret = secret
        self.errors: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def refusal(self, error: DownstreamError, keywords: dict[str, str]) -> None:
        """Show a service's refusal next to the field its code is about (`weak_password` → password)."""
        field = next((name for keyword, name in keywords.items() if keyword in error.code), self.fields[0])
        self.error(field, error.message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def shown(self, name: str) -> str:
        """The value to put back in the page: never a password."""
        return "" if name in self.secret else self.values.get(name, "")

    def summary(self) -> list[tuple[str, str]]:
        return [(name, self.errors[name]) for name in self.fields if name in self.errors]


def check_pmi_number(form: Form) -> None:
    """The number as identity reads it (spaces between the digits forgiven, as on a letter: '28 01 53'), kept in
    the form in its 6-digit form."""
    if not form["pmi_number"]:
        form.error("pmi_number", "Saisissez votre numéro de dossier PMI.")
        return
    try:
        form.values["pmi_number"] = parse_pmi_number(form["pmi_number"], allow_spaces=True)
    except ValueError:
        form.error("pmi_number", "Le numéro de dossier PMI comporte exactement 6 chiffres, par exemple 280153.")


def check_date(form: Form, name: str, label: str, today: date) -> date | None:
    """A date given as three fields `<name>_day`, `<name>_month`, `<name>_year` (the most accessible way)."""
    parts = [form[f"{name}_{part}"] for part in ("day", "month", "year")]
    if not all(parts):
        form.error(name, f"{label} doit comporter un jour, un mois et une année.")
        return None
    try:
        # ASCII digits only, 4 at most: int() would read "١٢" and numbers of any size (date() then overflows).
        if not all(DATE_PART.fullmatch(part) for part in parts):
            raise ValueError(parts)
        day, month, year = (int(part) for part in parts)
        value = date(year, month, day)
    except (ValueError, OverflowError):
        form.error(name, f"{label} doit être une date réelle, par exemple 12 4 1985.")
        return None
    if year < 1900:
        form.error(name, f"{label} doit comporter une année sur 4 chiffres, par exemple 1985.")
        return None
    if value >= today:
        form.error(name, f"{label} doit être dans le passé.")
        return None
    return value


# --- hostile input ------------------------------------------------------------------------------------------------

MAX_VALUE_LENGTH = 2000      # no field of the site takes more; a longer value is no typing
MAX_QUERY_LENGTH = 4096
MAX_PATH_LENGTH = 1000
# The site's forms are a few fields of text: a body or a field count far beyond is no form of ours.
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_PARTS = 200
MAX_PAGE = 10_000
ASCII_NUMBER = re.compile(r"[0-9]{1,9}")
DATE_PART = re.compile(r"[0-9]{1,4}")
# C0 and C1 control characters, DEL, the Unicode line separators; U+FFFD is what bytes that are not UTF-8 decode to.
_FORBIDDEN_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffd]")
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffd]")  # tab, CR, LF ok
# Where a login may send back to: the professional space, and the PMI staff's space.
NEXT_PREFIXES = ("/espace-pro", "/espace-pmi")
NEXT_PATH = re.compile(r"/espace-p(?:ro|mi)(?:[/?#][A-Za-z0-9/?#=&%._~+-]*)?")


class BadInput(Exception):
    """A request no form could have produced: answered 400 with `message` (French) as a whole."""

    def __init__(self, message: str, code: str = "bad_input"):
        super().__init__(message)
        self.message, self.code = message, code


def check_request_input(request) -> None:
    """Refuse, before any view, what no browser filling our forms sends: control characters or undecodable bytes
    in the path, the query or a form, overlong values."""
    if len(request.query_string) > MAX_QUERY_LENGTH or len(request.path) > MAX_PATH_LENGTH:
        raise BadInput("L'adresse demandée est trop longue.")
    if _FORBIDDEN_IN_LINE.search(request.path) or not _utf8(request.environ.get("PATH_INFO", "").encode("latin-1")):
        raise BadInput("L'adresse demandée contient des caractères non valides.")
    # Werkzeug keeps undecodable bytes as their "%FF" spelling rather than failing: look at the raw bytes.
    raw_form = request.get_data(cache=True) if request.mimetype == "application/x-www-form-urlencoded" else b""
    if not _utf8(unquote_to_bytes(request.query_string)) or not _utf8(unquote_to_bytes(raw_form)):
        raise BadInput("Une valeur envoyée contient des caractères non valides (texte mal encodé). Vérifiez ce que "
                       "vous avez saisi.")
    for values, forbidden in ((request.args, _FORBIDDEN_IN_LINE), (_form(request), _FORBIDDEN_IN_TEXT)):
        for name, value in values.items(multi=True):
            if len(name) > 100 or len(value) > MAX_VALUE_LENGTH:
                raise BadInput("Une valeur envoyée est trop longue. Vérifiez ce que vous avez saisi.")
            if forbidden.search(name) or forbidden.search(value):
                raise BadInput("Une valeur envoyée contient des caractères non valides (caractères de contrôle ou "
                               "texte mal encodé). Vérifiez ce que vous avez saisi.")


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _form(request):
    if request.method != "POST" or request.mimetype not in ("application/x-www-form-urlencoded",
                                                            "multipart/form-data"):
        from werkzeug.datastructures import MultiDict
        return MultiDict()
    return request.form


def parse_page(value: str | None, *, name: str = "page", maximum: int = MAX_PAGE) -> int | None:
    """A page number (or a count) as people and scripts write it: ASCII digits, 1 to `maximum`. None when absent.
    `int()` alone would read non-ASCII digits ("١٢") and numbers of any size: both are refused here."""
    if value is None or value == "":
        return None
    if not ASCII_NUMBER.fullmatch(value) or not 1 <= int(value) <= maximum:
        raise BadInput(f"« {name} » doit être un nombre entier entre 1 et {maximum}, écrit en chiffres.",
                       code=f"bad_{name}")
    return int(value)


def safe_next(target: str | None) -> str | None:
    """The page to go back to after a login: a path of the espace pro (or the PMI's), or None (home). A value
    that could leave the site is ignored; one that could become a second header line (CR/LF) is refused."""
    if not target:
        return None
    if _FORBIDDEN_IN_LINE.search(target) or len(target) > 500:
        raise BadInput("Le lien de retour de cette page n'est pas valide. Repartez de la page de connexion.")
    if not target.startswith(NEXT_PREFIXES) or "//" in target or "\\" in target or not NEXT_PATH.fullmatch(target):
        return None
    return target
