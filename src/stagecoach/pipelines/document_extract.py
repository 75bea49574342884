"""Extracting: the text of a PDF (page by page), docx, html, markdown or plain text file."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from stagecoach.domain.errors import StageError
from stagecoach.media import safe_zip
from stagecoach.pipelines.text import looks_binary, too_complex

CHARS_PER_PAGE = 3000  # a "page" of a format without pages, so progress has one unit
FORMATS_BY_EXTENSION = {
    "pdf": "pdf",
    "docx": "docx",
    "html": "html",
    "htm": "html",
    "md": "markdown",
    "markdown": "markdown",
    "txt": "text",
}
FORMATS_BY_MIME = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/html": "html",
    "text/markdown": "markdown",
}


def document_format(original_name: str, mime: str, path: Path) -> str:
    """pdf, docx, html, markdown or text: the content's own signature wins over the name."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx"
    ext = original_name.rsplit(".", 1)[-1].lower() if "." in original_name else ""
    named = FORMATS_BY_EXTENSION.get(ext) or FORMATS_BY_MIME.get(mime.split(";")[0])
    if named:
        return named
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].lower()
    return "html" if start.startswith((b"<!doctype html", b"<html")) else "text"


# --- PDF -------------------------------------------------------------------------------


def pdf_error(code: str, message: str, hint: str) -> StageError:
    return StageError(code, message, hint=hint)


def open_pdf(path: Path) -> Any:
    """A readable ``PdfReader``; encrypted and damaged files raise a permanent StageError."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password required")
        len(reader.pages)  # the page tree is where damaged files usually fail
    except (FileNotDecryptedError, DependencyError) as exc:
        raise pdf_error(
            "pdf_encrypted",
            "The PDF is protected by a password, so its text cannot be read.",
            "Open it with its password, save or print an unprotected copy, and upload that.",
        ) from exc
    except Exception as exc:  # pypdf raises many types on damaged files
        raise pdf_error(
            "pdf_corrupt",
            f"The PDF is damaged and cannot be read ({type(exc).__name__}: {exc}).",
            "Open the file in a PDF viewer; if it opens, save a new copy and upload that. "
            "Otherwise upload the original again.",
        ) from exc
    return reader


def pdf_page_count(path: Path) -> int | None:
    try:
        return len(open_pdf(path).pages)
    except StageError:
        return None


def pdf_pages(reader: Any) -> Iterator[str | None]:
    """Each page's text; None for a page whose content cannot be parsed."""
    for page in reader.pages:
        try:
            yield page.extract_text() or ""
        except Exception:  # one bad page should not lose the others
            yield None


# --- docx ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocxContent:
    text: str  # paragraphs, and table rows as "cell | cell"
    prose: str  # the paragraphs alone, for summarising
    tables: int


def docx_content(path: Path) -> DocxContent:
    import docx
    from docx.table import Table

    try:
        safe_zip.check(path, "Word document")
        document = docx.Document(str(path))
        parts: list[str] = []
        paragraphs: list[str] = []
        tables = 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                tables += 1
                for row in block.rows:
                    parts.append(" | ".join(cell.text.strip() for cell in row.cells))
            else:
                parts.append(block.text)
                paragraphs.append(block.text)
    except safe_zip.TooComplex as exc:
        raise too_complex(exc) from None
    except Exception as exc:  # python-docx and zipfile raise many types on damaged files
        raise StageError(
            "docx_corrupt",
            "The Word document is damaged or is not a .docx file.",
            hint="Open it in Word or LibreOffice, save it as .docx and upload it again "
            "(old .doc files must be converted first).",
        ) from exc

    def join(items: list[str]) -> str:
        return "\n\n".join(p for p in items if p.strip())

    return DocxContent(join(parts), join(paragraphs), tables)


def docx_page_estimate(path: Path) -> int | None:
    """Pages as Word last counted them (docProps/app.xml), when the file says."""
    try:
        with zipfile.ZipFile(path) as z:
            app = safe_zip.read_member(z, "docProps/app.xml", limit=2**20).decode(
                "utf-8", "replace"
            )
    except (KeyError, OSError, zipfile.BadZipFile, safe_zip.TooComplex):
        return None
    match = re.search(r"<Pages>(\d+)</Pages>", app)
    return int(match.group(1)) if match else None


# --- text, markdown, html ---------------------------------------------------------------


def decode_text(data: bytes) -> str:
    if looks_binary(data[:8192]):
        raise StageError(
            "not_text",
            "The file is not text: it looks like binary data.",
            hint="Upload a PDF, Word (.docx), HTML, Markdown or plain-text document.",
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg"}
    BLOCK = {
        "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
        "article", "header", "footer", "blockquote", "pre", "table", "ul", "ol", "title",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(source: str) -> str:
    parser = _HTMLText()
    parser.feed(source)
    parser.close()
    return tidy("".join(parser.parts))


MD_RULES = [
    (re.compile(r"```.*?```", re.S), "\n\n"),  # code blocks are not prose
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the words
    (re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*$", re.M), r"\n\n\1\n\n"),  # headings stand alone
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$", re.M), r"\n\n\1\n\n"),  # list items too
    (re.compile(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1"), r"\2"),  # emphasis and inline code
    (re.compile(r"^\s*>\s?", re.M), ""),  # quotes
]


MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _without_tables(source: str) -> tuple[str, int]:
    """Markdown tables (a header row, a rule of dashes, rows with pipes) taken out."""
    lines = source.splitlines()
    keep: list[str] = []
    tables = 0
    i = 0
    while i < len(lines):
        if "|" in lines[i] and i + 1 < len(lines) and MD_TABLE_RULE.match(lines[i + 1]):
            tables += 1
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                i += 1
            keep.append("")
            continue
        keep.append(lines[i])
        i += 1
    return "\n".join(keep), tables


def markdown_prose(source: str) -> tuple[str, int]:
    """Markdown reduced to prose for summarising, and how many tables were left out (the
    .txt result keeps the source as is)."""
    source, tables = _without_tables(source)
    for pattern, repl in MD_RULES:
        source = pattern.sub(repl, source)
    return tidy(source), tables


def tidy(text: str) -> str:
    """Collapse runs of spaces and blank lines, keep paragraph breaks."""
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)
