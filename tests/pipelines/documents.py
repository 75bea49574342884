"""Documents made by the tests: PDFs with fpdf2, Word files with python-docx."""

from __future__ import annotations

from pathlib import Path

import docx
from fpdf import FPDF

SOLAR = [
    "Solar panels turn sunlight into electricity for homes and offices.",
    "The cost of solar panels has fallen by more than eighty percent in ten years.",
    "Many towns now pay families to put solar panels on their roofs.",
    "Batteries store the electricity from solar panels for use at night.",
]
# One aside per page, each in words the rest of the document never uses.
ASIDES = [
    "The weather was mild in the spring.",
    "Some people prefer tea to coffee in the morning.",
    "Our cat sleeps under the kitchen table.",
    "The library closes early on holidays.",
    "A violin concert filled the old church.",
    "Fresh bread smells wonderful at dawn.",
    "The river froze during that bitter January.",
    "Grandmother knitted scarves for every cousin.",
    "Chess clubs meet downstairs each Thursday.",
    "Tulips bloomed beside the narrow canal.",
    "The marathon route passes the harbour.",
    "Owls hunt quietly above meadows.",
]


def page_text(number: int) -> str:
    aside = ASIDES[(number - 1) % len(ASIDES)]
    return f"Page {number} report. " + " ".join(SOLAR) + f" {aside} This closes page {number}."


def make_pdf(path: Path, pages: int, user_password: str | None = None) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    if user_password:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, page_text(number))
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Solar energy at home", level=1)
    for sentence in SOLAR + ASIDES[:2]:
        document.add_paragraph(sentence)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Year", "Panels installed"
    table.cell(1, 0).text, table.cell(1, 1).text = "2024", "1200"
    document.save(str(path))
    return path


MANUAL_TITLE = "Solar Handbook for Homeowners"


def make_manual_pdf(path: Path, pages: int) -> Path:
    """A manual as real ones look: a running header, a footer with the page number, and
    body text that goes on from page to page."""

    class Manual(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=8)
            self.cell(0, 5, f"{MANUAL_TITLE} - Chapter {1 + (self.page_no() - 1) // 3}")
            self.ln(10)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("helvetica", size=8)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Manual()
    pdf.alias_nb_pages()
    pdf.set_font("helvetica", size=11)
    for number in range(1, pages + 1):
        pdf.add_page()
        turn = (number - 1) % len(SOLAR)
        body = [ASIDES[(number - 1) % len(ASIDES)], *SOLAR[turn:], *SOLAR[:turn]]
        pdf.multi_cell(0, 6, " ".join(body))
    pdf.output(str(path))
    return path
