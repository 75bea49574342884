"""What one cell of a table holds: missing, a number, a yes/no, a date, or text.

Shared by the CSV layout sniffer (is the first row a header?) and the column profiler (what
type is this column?), so both read a cell the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import StrEnum

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"})
BOOLEANS = frozenset({"true", "false", "yes", "no", "y", "n"})

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
_MONTH = r"(?P<mon>[A-Za-z]{3,9})\.?"
_TIME = (
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?"
    r"\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?"
)
_WEEKDAY = r"(?:[A-Za-z]{3,9},?\s+)?"
DATE_PATTERNS = [
    # 2024-03-05, 2024/03/05, 2024.03.05, with an optional time: ISO 8601 and its cousins
    re.compile(rf"^(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TIME}$"),
    # 05/03/2024, 05.03.2024, 5-3-2024 (day first unless the first number cannot be a day)
    re.compile(rf"^(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}){_TIME}$"),
    # 5 Mar 2024, Tue, 05 Mar 2024 10:00:00 GMT (RFC 2822)
    re.compile(rf"^{_WEEKDAY}(?P<d>\d{{1,2}})[ -]{_MONTH}[ -,]+(?P<y>\d{{4}}){_TIME}$"),
    # Mar 5, 2024; March 5 2024
    re.compile(
        rf"^{_WEEKDAY}{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}}){_TIME}$"
    ),
    # 2024-03 (a month)
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$"),
]


class CellKind(StrEnum):
    MISSING = "missing"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TEXT = "text"


def parse_number(value: str) -> float:
    """The number a cell holds (NaN when it holds none): 1234, -1.5e3, 1,234.5, 12 %."""
    try:
        return float(value)
    except ValueError:
        pass
    text = value.strip().removesuffix("%").strip()
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    elif text == value.strip():
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse_date(value: str) -> dt.date | None:
    """The calendar date a cell names, or None. Times after the date are allowed and ignored."""
    if not 6 <= len(value) <= 40 or not value[:1].isalnum():
        return None
    for pattern in DATE_PATTERNS:
        found = pattern.match(value)
        if found is None:
            continue
        parts = found.groupdict()
        if parts.get("mon") is not None:
            month = MONTHS.get(parts["mon"].lower())
            if month is None:
                return None
            day = int(parts["d"])
        elif parts.get("a") is not None:
            a, b = int(parts["a"]), int(parts["b"])
            day, month = (b, a) if a <= 12 < b else (a, b)
        else:
            month, day = int(parts["m"]), int(parts.get("d") or 1)
        year = int(parts["y"])
        if not 1000 <= year <= 2999:
            return None
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    return None


def cell_kind(value: str) -> CellKind:
    """The kind of one cell's text (already stripped)."""
    if value.lower() in MISSING:
        return CellKind.MISSING
    if not math.isnan(parse_number(value)):
        return CellKind.NUMBER
    if value.lower() in BOOLEANS:
        return CellKind.BOOLEAN
    if parse_date(value) is not None:
        return CellKind.DATE
    return CellKind.TEXT
