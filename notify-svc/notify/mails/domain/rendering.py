"""Mail templates (Jinja2, in notify/mails/templates/) and dates written the French way, in Paris time.

A template `name` is three files: `name.subject.txt`, `name.txt` (the plain text) and `name.html` (its HTML
alternative, autoescaped). A variable missing from the context fails the rendering: no mail goes out with a blank.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import jinja2

PARIS = ZoneInfo("Europe/Paris")
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")


def in_paris(moment: dt.datetime) -> dt.datetime:
    """A naive moment is taken as UTC, as every event of the catalogue carries UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(PARIS)


def french_datetime(moment: dt.datetime) -> str:
    """« samedi 1er mars 2025 à 9 h 05 »."""
    local = in_paris(moment)
    day = "1er" if local.day == 1 else str(local.day)
    return (f"{_WEEKDAYS[local.weekday()]} {day} {_MONTHS[local.month - 1]} {local.year} "
            f"à {local.hour} h {local.minute:02d}")


def french_date(day: dt.date) -> str:
    """« samedi 1er mars 2025 » (a calendar day: no time zone to apply)."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{_WEEKDAYS[day.weekday()]} {number} {_MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("notify.mails", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["date_fr"] = french_datetime
    environment.filters["day_fr"] = french_date
    return environment


def render(template: str, context: dict) -> Rendered:
    environment = _environment()
    subject = environment.get_template(f"{template}.subject.txt").render(context)
    return Rendered(subject=" ".join(subject.split()),  # a header is one line, whatever the template did
                    text=environment.get_template(f"{template}.txt").render(context),
                    html=environment.get_template(f"{template}.html").render(context))
