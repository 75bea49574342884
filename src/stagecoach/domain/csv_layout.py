"""Where the table starts in a delimited text file, and how its lines are cut.

Real exports open with a comment (``# Data source: ...``), a title line or a note before
the header, and not every file uses commas. Like the readers of pandas and DuckDB, the
layout is sniffed from the file's first lines:

- the delimiter is the candidate that cuts the most lines into the same number of fields
  (the consistency that CleverCSV scores dialects by), more fields breaking ties;
- lines before the table are skipped: comments (``#`` or ``//``), blank lines, and lines
  with far fewer fields than the table (a title, "Source: ..."). With leading comments,
  comment lines further down are dropped too, as ``comment="#"`` does in pandas;
- the first row is the header unless it looks like data: a number or date where the rows
  below have numbers or dates, and nowhere a word above a column of numbers or dates.

Pure: it reads text it is given, never a file.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from stagecoach.domain.cells import CellKind, cell_kind

DELIMITERS = (",", ";", "\t", "|")
COMMENT_PREFIXES = ("#", "//")
SNIFF_LINES = 200
HEADER_CHECK_ROWS = 50


@dataclass(frozen=True)
class CsvLayout:
    delimiter: str
    skip_lines: int  # physical lines before the table (the header, or the first row)
    header: bool  # the first row of the table names the columns
    columns: int  # fields per row, as most rows have
    comment: str | None = None  # lines starting with this are comments, wherever they are
    skipped: tuple[str, ...] = field(default=())  # the skipped lines (comments, titles)

    def notes(self) -> list[str]:
        """What was decided, in words, for the profile and the story."""
        out = []
        comments = [s for s in self.skipped if self.comment and s.startswith(self.comment)]
        other = [s for s in self.skipped if s not in comments]
        if comments:
            out.append(
                f"Skipped {_count(len(comments), 'comment line')} before the table "
                f"(“{_clip(comments[0])}”)."
            )
        if other:
            out.append(
                f"Skipped {_count(len(other), 'line')} before the table that "
                f"{'is' if len(other) == 1 else 'are'} not part of it (“{_clip(other[0])}”)."
            )
        if not self.header:
            out.append("The first row holds data, not column names: columns are numbered.")
        if self.delimiter != ",":
            name = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}[self.delimiter]
            out.append(f"Fields are separated by {name}.")
        return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _lines(text: str, complete: bool) -> list[str]:
    lines = io.StringIO(text, newline="").readlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside the last line
    return lines[:SNIFF_LINES]


def _fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _consistency(lines: list[str], delimiter: str) -> tuple[float, int]:
    """(share of lines with the most common field count, that count)."""
    counts = Counter(len(_fields(line, delimiter)) for line in lines)
    if not counts:
        return 0.0, 0
    width, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return n / len(lines), width


def is_preamble(filled: int, width: int) -> bool:
    """A row with ``filled`` non-empty cells before a table ``width`` wide is not part of it."""
    return filled < width and (filled <= 1 or filled <= width // 2)


def preamble_rows(filled: list[int]) -> int:
    """How many of the first rows (their non-empty cell counts) come before the table: the
    rows that are blank or far narrower than most rows. For sheets, which have no lines."""
    widths = Counter(n for n in filled if n)
    if not widths:
        return 0
    width = max(widths.items(), key=lambda kv: (kv[1], kv[0]))[0]
    skip = 0
    for n in filled:
        if n and not is_preamble(n, width):
            break
        skip += 1
    return skip


def _is_preamble(line: str, width: int, delimiter: str) -> bool:
    return is_preamble(len([f for f in _fields(line, delimiter) if f.strip()]), width)


def _looks_like_data(first: list[str], body: list[list[str]]) -> bool:
    """The first row looks like a row of data rather than column names."""
    if not body:
        return False
    evidence = False
    for i, cell in enumerate(first):
        below = Counter(cell_kind(r[i].strip()) for r in body if i < len(r))
        below.pop(CellKind.MISSING, None)
        if not below:
            continue
        kind, n = below.most_common(1)[0]
        if kind not in (CellKind.NUMBER, CellKind.DATE) or n < 0.8 * sum(below.values()):
            continue
        mine = cell_kind(cell.strip())
        if mine == kind:
            evidence = True
        elif mine is CellKind.TEXT:
            return False  # a word above a column of numbers or dates: a header
    return evidence


def sniff_layout(text: str, *, complete: bool, delimiter: str | None = None) -> CsvLayout:
    """The layout of the delimited text that starts with ``text`` (``complete``: all of it)."""
    lines = _lines(text, complete)
    first = next((ln.lstrip() for ln in lines if ln.strip()), "")
    comment = next((p for p in COMMENT_PREFIXES if first.startswith(p)), None)

    def is_comment(line: str) -> bool:
        return comment is not None and line.lstrip().startswith(comment)

    content = [ln for ln in lines if ln.strip() and not is_comment(ln)]
    if delimiter is None:
        scored = [(_consistency(content, d), -i, d) for i, d in enumerate(DELIMITERS)]
        (share, width), _, delimiter = max(
            scored, key=lambda s: (s[0][0] * (1 - 1 / s[0][1]) if s[0][1] else 0.0, s[0][1], s[1])
        )
        if width <= 1:
            delimiter = ","
    _, width = _consistency(content, delimiter)
    skipped: list[str] = []
    start = 0
    for index, line in enumerate(lines):
        start = index
        if not line.strip():
            continue
        if is_comment(line) or _is_preamble(line, width, delimiter):
            skipped.append(line.strip())
            continue
        break
    else:
        start = len(lines)
    table = [_fields(ln, delimiter) for ln in lines[start:] if ln.strip() and not is_comment(ln)]
    header = bool(table) and not _looks_like_data(table[0], table[1 : 1 + HEADER_CHECK_ROWS])
    return CsvLayout(
        delimiter=delimiter,
        skip_lines=start,
        header=header,
        columns=len(table[0]) if table and header else max(width, 1),
        comment=comment,
        skipped=tuple(skipped),
    )
