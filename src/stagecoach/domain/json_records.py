"""Where the records are in a JSON document whose top level is not a list.

Data files often wrap their records: ``{"3166-1": [ ... ]}``, ``{"data": {"items": [...]}}``,
or key them by name: ``{"alice": {...}, "bob": {...}}``. The records are the longest list
of objects (or of lists) within a few levels; failing that, an object of objects is one
record per key; failing that, the object itself is one record, and the note says so.
Pure: it looks at a decoded value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 3
KEY_COLUMN = "key"


@dataclass(frozen=True)
class Records:
    records: list[Any]
    path: tuple[str, ...] = ()  # keys from the top level to the list; () for the top level
    note: str | None = None  # what was found, when it is not simply a list of records


def _lists(value: Any, path: tuple[str, ...], depth: int) -> list[tuple[tuple[str, ...], list]]:
    found: list[tuple[tuple[str, ...], list]] = []
    if depth > MAX_DEPTH or not isinstance(value, dict):
        return found
    for key, child in value.items():
        if isinstance(child, list):
            found.append(((*path, str(key)), child))
        elif isinstance(child, dict):
            found.extend(_lists(child, (*path, str(key)), depth + 1))
    return found


def _structured(items: list[Any]) -> bool:
    return bool(items) and sum(isinstance(i, dict | list) for i in items) >= 0.9 * len(items)


def _where(path: tuple[str, ...]) -> str:
    return " → ".join(f"“{k}”" for k in path)


def find_records(value: Any) -> Records:
    if isinstance(value, list):
        return Records(value)
    if not isinstance(value, dict):
        return Records([value], note="The file holds a single JSON value, not a list of records.")
    lists = _lists(value, (), 1)
    best = max(
        (c for c in lists if _structured(c[1])), key=lambda c: (len(c[1]), -len(c[0])), default=None
    )
    if best is None:  # no list of records: a list of plain values will do
        best = max(lists, key=lambda c: (len(c[1]), -len(c[0])), default=None)
        best = best if best and best[1] else None
    if best is not None:
        path, records = best
        others = len(value) - 1
        rest = (
            f"; the other {others} top-level {'key is' if others == 1 else 'keys are'} not profiled"
            if others
            else ""
        )
        return Records(
            records,
            path,
            f"The top level is an object: the {len(records):,} records are the list under "
            f"{_where(path)}{rest}.",
        )
    if len(value) >= 2 and all(isinstance(v, dict) for v in value.values()):
        return Records(
            [{KEY_COLUMN: k, **v} for k, v in value.items()],
            note=f"The top level is an object of {len(value):,} objects: each is one row, "
            f"its name in the column “{KEY_COLUMN}”.",
        )
    return Records(
        [value],
        note=f"The top level is one object with {len(value):,} keys and no list of records "
        "inside: it is profiled as a single row.",
    )
