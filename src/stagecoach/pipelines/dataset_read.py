"""Reading tables row by row from csv, tsv, xlsx and json, whatever their size.

Every reader yields rows as lists of cells aligned with its ``columns``, which for JSON can
grow as new keys appear (earlier rows are then simply shorter).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import warnings
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

from stagecoach.domain.csv_layout import preamble_rows, sniff_layout
from stagecoach.domain.errors import StageError
from stagecoach.domain.json_records import find_records
from stagecoach.media import safe_zip
from stagecoach.pipelines.text import looks_binary, too_complex

SAMPLE_BYTES = 64 * 1024
JSON_CHUNK_CHARS = 1 << 20
SHEET_HEAD_ROWS = 50  # rows of a sheet looked at to find where its table starts
FORMATS_BY_EXTENSION = {
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "xlsx": "xlsx",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
}
FORMATS_BY_MIME = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
HINT = "Upload a CSV or TSV file with a header row, an .xlsx workbook, or JSON (a list of records)."


def unreadable(detail: str) -> StageError:
    return StageError("dataset_unreadable", f"The data file cannot be read: {detail}.", hint=HINT)


def empty(detail: str) -> StageError:
    return StageError(
        "dataset_empty",
        f"The data file is empty: {detail}.",
        hint="Check that the export finished and that the file has a header row and data rows.",
    )


def dataset_format(original_name: str, path: Path, mime: str = "") -> str:
    """csv, tsv, xlsx or json: the content first, then the detected type, then the name."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    by_mime = FORMATS_BY_MIME.get(mime.split(";")[0].strip())
    if by_mime:
        return by_mime
    ext = original_name.rsplit(".", 1)[-1].lower() if "." in original_name else ""
    if ext in FORMATS_BY_EXTENSION:
        return FORMATS_BY_EXTENSION[ext]
    return "json" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv"


def cell_text(value: Any) -> str:
    """A cell as text, the way a CSV would carry it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def unique_names(names: list[Any]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(names, 1):
        base = cell_text(name).strip() or f"column_{i}"
        candidate, n = base, 2
        while candidate in out:
            candidate, n = f"{base}_{n}", n + 1
        out.append(candidate)
    return out


class TableReader:
    columns: list[str]

    def rows(self) -> Iterator[list[Any]]:
        raise NotImplementedError

    def notes(self) -> list[str]:
        """How the file was read, where a reader had to decide (skipped lines, a wrapper)."""
        return []


class DelimitedReader(TableReader):
    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        with open(path, "rb") as f:
            sample = f.read(SAMPLE_BYTES)
        if not sample.strip():
            raise empty("it contains no data")
        if looks_binary(sample):
            raise unreadable("it is binary data, not text")
        try:
            sample.decode("utf-8-sig")
            self.encoding = "utf-8-sig"
        except UnicodeDecodeError as exc:
            # A sample cut mid-character is still UTF-8; anything else is probably Windows.
            self.encoding = "utf-8-sig" if exc.start >= len(sample) - 3 else "cp1252"
        text = sample.decode(self.encoding, errors="replace")
        self.layout = sniff_layout(
            text,
            complete=len(sample) < SAMPLE_BYTES,
            delimiter="\t" if fmt == "tsv" else None,
        )
        self.delimiter = self.layout.delimiter
        first = next(self._records(io.StringIO(text, newline="")), None)
        if not first or not any(c.strip() for c in first):
            raise empty("it has no header line" if self.layout.header else "it has no rows")
        if self.layout.header:
            self.columns = unique_names(first)
        else:
            self.columns = [f"column_{i}" for i in range(1, self.layout.columns + 1)]

    def notes(self) -> list[str]:
        return self.layout.notes()

    def _records(self, f: Any) -> Any:  # a csv reader (it knows its line_num)
        """The rows of the table: the lines before it and comment lines left out."""
        for _ in range(self.layout.skip_lines):
            f.readline()
        comment = self.layout.comment
        lines = (ln for ln in f if not ln.lstrip().startswith(comment)) if comment else f
        return csv.reader(lines, delimiter=self.delimiter)

    def rows(self) -> Iterator[list[Any]]:
        with open(self.path, encoding=self.encoding, errors="replace", newline="") as f:
            reader = self._records(f)
            if self.layout.header:
                next(reader, None)
            try:
                for row in reader:
                    if row and any(row):
                        yield row
            except csv.Error as exc:
                raise unreadable(f"line {reader.line_num}: {exc}") from exc


def _filled(cell: Any) -> bool:
    return cell is not None and str(cell).strip() != ""


class XlsxReader(TableReader):
    def __init__(self, path: Path) -> None:
        import openpyxl

        # The stored blob has no extension, and openpyxl refuses a path without one.
        self.handle = open(path, "rb")  # noqa: SIM115 (closed with the book, after the rows)
        try:
            safe_zip.check(path, "Excel workbook")
            # openpyxl warns about features it drops on reading (styles, validation); noise here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.book = openpyxl.load_workbook(self.handle, read_only=True, data_only=True)
            self.sheet = self.book.worksheets[0]
            rows = self.sheet.iter_rows(values_only=True)
            head = list(islice(rows, SHEET_HEAD_ROWS))
        except safe_zip.TooComplex as exc:
            self.close()
            raise too_complex(exc) from None
        except Exception as exc:  # openpyxl and zipfile raise many types on damaged files
            self.close()
            raise unreadable("it is not a valid .xlsx workbook") from exc
        # A title or a note above the table (statistics exports have them) is not its header.
        skip = preamble_rows([sum(_filled(c) for c in r) for r in head])
        above = [" ".join(str(c) for c in r if _filled(c)) for r in head[:skip]]
        above = [a for a in above if a]
        self._notes = []
        if above:
            rows_word = "row" if len(above) == 1 else "rows"
            self._notes.append(
                f"Skipped {len(above)} {rows_word} above the table (“{above[0][:60]}”)."
            )
        start = next((i for i in range(skip, len(head)) if any(_filled(c) for c in head[i])), None)
        if start is None:
            self.close()
            raise empty("its first sheet has no cells")
        self.columns = unique_names(list(head[start]))
        self._rows = chain(head[start + 1 :], rows)

    def notes(self) -> list[str]:
        return self._notes

    def rows(self) -> Iterator[list[Any]]:
        try:
            for row in self._rows:
                if any(c is not None for c in row):
                    yield list(row)
        finally:
            self.close()

    def close(self) -> None:
        book = getattr(self, "book", None)
        if book is not None:
            book.close()
        self.handle.close()

    def row_estimate(self) -> int | None:
        return (self.sheet.max_row - 1) if self.sheet.max_row else None


class JsonReader(TableReader):
    """A JSON array of records (objects or lists), or JSON Lines, decoded one record at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns = []
        self._index: dict[str, int] = {}
        self._notes: list[str] = []

    def _values(self) -> Iterator[Any]:
        decoder = json.JSONDecoder()
        with open(self.path, encoding="utf-8-sig", errors="replace") as f:
            buf, pos, eof = f.read(JSON_CHUNK_CHARS), 0, False
            if looks_binary(buf[:8192].encode("utf-8", "replace")):
                raise unreadable("it is binary data, not JSON")
            stripped = buf.lstrip()
            if not stripped:
                raise empty("it contains no data")
            in_array = stripped[0] == "["
            if stripped[0] not in "[{":
                raise unreadable("it is not a JSON array of records")
            pos = len(buf) - len(stripped) + (1 if in_array else 0)
            while True:
                while pos < len(buf) and (buf[pos].isspace() or (in_array and buf[pos] == ",")):
                    pos += 1
                if pos >= len(buf) - 1 and not eof:
                    more = f.read(JSON_CHUNK_CHARS)
                    buf, pos, eof = buf[pos:] + more, 0, not more
                    continue
                if pos >= len(buf) or (in_array and buf[pos] == "]"):
                    return
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if eof:
                        raise unreadable(f"invalid JSON ({exc.msg})") from exc
                    more = f.read(JSON_CHUNK_CHARS)
                    buf, pos, eof = buf[pos:] + more, 0, not more
                    continue
                yield value
                pos = end

    def notes(self) -> list[str]:
        return self._notes

    def rows(self) -> Iterator[list[Any]]:
        values = self._values()
        first = next(values, None)
        if isinstance(first, dict):
            second = next(values, None)
            if second is None:  # one object: records wrapped in it, or keyed by name
                found = find_records(first)
                if found.note:
                    self._notes.append(found.note)
                yield from self._records(iter(found.records))
                return
            values = chain([first, second], values)
        elif first is not None:
            values = chain([first], values)
        yield from self._records(values)

    def _records(self, values: Iterator[Any]) -> Iterator[list[Any]]:
        for value in values:
            if isinstance(value, list):  # a list of lists: the first one is the header
                self.columns = unique_names(value)
                for row in values:
                    if not isinstance(row, list):
                        raise unreadable("records mix lists and objects")
                    yield row
                return
            if not isinstance(value, dict):
                value = {"value": value}  # a list of plain values: one column
            row = [None] * len(self.columns)
            for key, cell in value.items():
                index = self._index.get(key)
                if index is None:
                    index = self._index[key] = len(self.columns)
                    self.columns.append(str(key))
                    row.append(None)
                row[index] = cell
            yield row


def open_table(path: Path, fmt: str) -> TableReader:
    if fmt == "xlsx":
        return XlsxReader(path)
    if fmt == "json":
        return JsonReader(path)
    return DelimitedReader(path, fmt)


def row_estimate(path: Path, fmt: str) -> int:
    """A cheap guess of the row count: line count for text, the sheet's size for xlsx."""
    if fmt == "xlsx":
        try:
            reader = XlsxReader(path)
        except StageError:
            return 0
        reader.close()
        return reader.row_estimate() or 0
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines - (0 if fmt == "json" else 1), 0)
