"""The mairie's list as a PDF (fpdf2): A4 landscape, the mairie's contact at the top, one row per assmat.

The standard Helvetica font needs no font file on the machine; it writes Latin-1, which covers French but for a
few typographic signs, replaced here by their plain equivalents.
"""
from __future__ import annotations

import datetime as dt

from fpdf import FPDF

from agrement.mairie_lists.domain import COLUMNS, Entry, Mairie, header_lines

_PLAIN = str.maketrans({"—": "-", "–": "-", "’": "'", "œ": "oe", "Œ": "OE", "…": "...", "\u202f": " "})
WIDTHS = (34, 28, 62, 16, 26, 13, 24, 20, 28, 0)   # mm; the last column takes what is left


def _plain(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """The text cut to its cell (a long address must not run over the next column)."""
    while pdf.get_string_width(text) > width - 2 and len(text) > 1:
        text = text[:-1]
    return text


def render_pdf(mairie: Mairie, entries: list[Entry], today: dt.date) -> bytes:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(_plain(header_lines(mairie, today, len(entries))[0]))
    pdf.set_author("Service de PMI")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    lines = header_lines(mairie, today, len(entries))
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, _plain(lines[0]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in lines[1:]:
        pdf.multi_cell(0, 6, _plain(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = list(WIDTHS)
    widths[-1] = pdf.epw - sum(widths[:-1])
    pdf.set_font("Helvetica", "B", 8)
    pdf.set_fill_color(220, 220, 220)
    for width, name in zip(widths, COLUMNS):
        pdf.cell(width, 7, _fit(pdf, _plain(name), width), border=1, fill=True)
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    for entry in entries:
        for width, value in zip(widths, entry.cells()):
            pdf.cell(width, 6, _fit(pdf, _plain(value), width), border=1)
        pdf.ln()
    if not entries:
        pdf.cell(0, 8, _plain("Aucun assistant maternel agréé en exercice dans la commune à cette date."))
    return bytes(pdf.output())
