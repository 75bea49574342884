"""Media facts read cheaply at upload, so a time estimate exists before processing starts.

Audio and video: duration from the container header (PyAV; nothing is decoded). PDF: page
count (pypdf reads the page tree, not the content). Text documents: pages of
``CHARS_PER_PAGE``. Datasets: row count, exact while cheap, else estimated from the bytes.
A file that cannot be read as what it claims to be raises ``Rejected`` (422).
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stagecoach.domain.csv_layout import sniff_layout
from stagecoach.domain.errors import without_paths
from stagecoach.domain.json_records import find_records
from stagecoach.media import safe_zip
from stagecoach.media.detect import FORMATS, Format, Rejected

CHARS_PER_PAGE = 3000  # a "page" of a format without pages (the pipelines use the same)
EXACT_LINES_UP_TO = 256 * 2**20  # count every line of csv/tsv up to this size
EXACT_JSON_UP_TO = 32 * 2**20  # parse JSON whole up to this size
SAMPLE_BYTES = 2**20
READ_CHUNK = 2**20


@dataclass(frozen=True)
class MediaFacts:
    format: Format  # may differ from the detected one: an audio-only .mp4 is audio
    duration_seconds: float | None = None
    page_count: int | None = None
    row_count: int | None = None
    column_count: int | None = None

    @property
    def file_type(self) -> str:
        return self.format.file_type


def probe(path: Path, fmt: Format) -> MediaFacts:
    if fmt.family.startswith("zip"):
        _check_zip(path, fmt)
    if fmt.file_type in ("audio", "video"):
        return _media(path, fmt)
    if fmt.name == "pdf":
        return MediaFacts(fmt, page_count=_pdf_pages(path))
    if fmt.name == "docx":
        return MediaFacts(fmt, page_count=_docx_pages(path))
    if fmt.name in ("txt", "md", "html"):
        size = path.stat().st_size
        return MediaFacts(fmt, page_count=max(1, math.ceil(size / CHARS_PER_PAGE)))
    if fmt.name in ("csv", "tsv"):
        rows, columns = _delimited_shape(path, fmt)
        return MediaFacts(fmt, row_count=rows, column_count=columns)
    if fmt.name == "xlsx":
        rows, columns = _xlsx_shape(path)
        return MediaFacts(fmt, row_count=rows, column_count=columns)
    if fmt.name == "json":
        records, keys = _json_shape(path)
        return MediaFacts(fmt, row_count=records, column_count=keys)
    return MediaFacts(fmt)


# --- audio and video ---------------------------------------------------------------------


def _media(path: Path, fmt: Format) -> MediaFacts:
    import av

    logging.getLogger("libav").setLevel(logging.ERROR)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = list(container.streams.audio)
            video = [s for s in container.streams.video if not _is_cover_art(s)]
            if not audio and not video:
                raise Rejected(f"the {fmt.label} file has no audio or video stream", 422)
            duration = _duration(container, audio or video)
    except Rejected:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise Rejected(f"the file cannot be read as {fmt.label} ({_short(exc)})", 422) from None
    if duration is None or duration <= 0:
        raise Rejected(f"the {fmt.label} file has no readable duration", 422)
    if fmt.file_type == "video" and not video:  # an audio-only .mp4 or .webm is audio
        fmt = (
            FORMATS["m4a"]
            if fmt.family == "iso-bmff"
            else replace(fmt, file_type="audio", mime=fmt.mime.replace("video/", "audio/"))
        )
    return MediaFacts(fmt, duration_seconds=round(duration, 3))


def _is_cover_art(stream: Any) -> bool:
    """An MP3's or M4A's cover picture shows up as a one-frame video stream."""
    import av

    flag = getattr(getattr(av, "stream", None), "Disposition", None)
    try:
        return bool(flag is not None and stream.disposition & flag.attached_pic)
    except (AttributeError, TypeError):
        return False


def _duration(container: Any, streams: list[Any]) -> float | None:
    import av

    total = getattr(container, "duration", None)
    if total:
        return float(total) / av.time_base
    best = None
    for s in streams:
        if s.duration and s.time_base:
            d = float(s.duration * s.time_base)
            best = d if best is None else max(best, d)
    if best:
        return best
    # Some recordings (a browser's MediaRecorder webm) carry no duration: read the packet
    # timestamps, which demuxes the file but decodes nothing.
    stream = streams[0]
    last = None
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            last = end if last is None else max(last, end)
    return last


# --- documents -----------------------------------------------------------------------------


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
            pages = len(reader.pages)
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Rejected(f"the file cannot be read as a PDF document ({_short(exc)})", 422) from None
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise Rejected(f"the file cannot be read as a PDF document ({_short(exc)})", 422) from None
    if pages < 1:
        raise Rejected("the PDF document has no pages", 422)
    return pages


def _docx_pages(path: Path) -> int:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "word/document.xml" not in names:
                raise Rejected("the file is a ZIP archive, not a Word document", 415)
            if "docProps/app.xml" in names:
                app = safe_zip.read_member(z, "docProps/app.xml", limit=2**20, what=WORD)
                found = re.search(rb"<Pages>(\d+)</Pages>", app)
                if found and int(found.group(1)) > 0:
                    return int(found.group(1))
            info = z.getinfo("word/document.xml")
            if info.file_size > 4 * 2**20:  # an estimate, rather than text in this process
                return max(1, info.file_size // (CHARS_PER_PAGE * 8))
            xml = safe_zip.read_member(z, "word/document.xml", what=WORD).decode("utf-8", "replace")
    except safe_zip.TooComplex as exc:
        raise Rejected(str(exc), 422) from None
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise Rejected(f"the file cannot be read as a Word document ({_short(exc)})", 422) from None
    chars = sum(len(t) for t in re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", xml))
    return max(1, math.ceil(chars / CHARS_PER_PAGE))


WORD = FORMATS["docx"].label


def _check_zip(path: Path, fmt: Format) -> None:
    """Every zip-based format: refuse a bomb before any library inflates a part."""
    try:
        safe_zip.check(path, fmt.label)
    except safe_zip.TooComplex as exc:
        raise Rejected(str(exc), 422) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise Rejected(f"the file cannot be read as {fmt.label} ({_short(exc)})", 422) from None


# --- datasets ------------------------------------------------------------------------------


def _line_count(path: Path) -> int:
    """Lines of a text file. Exact up to a size, else estimated from the first MiB."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if size > EXACT_LINES_UP_TO:
            sample = f.read(SAMPLE_BYTES)
            lines = max(1, sample.count(b"\n"))
            return max(0, round(size / (len(sample) / lines)))
        lines = 0
        last = b""
        while chunk := f.read(READ_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    return lines


def _delimited_shape(path: Path, fmt: Format) -> tuple[int, int]:
    """(data rows, columns): the lines of the table after its header, as the layout says."""
    with path.open("rb") as f:
        sample = f.read(SAMPLE_BYTES)
    text = sample.decode("utf-8-sig", "replace")
    layout = sniff_layout(
        text,
        complete=len(sample) >= path.stat().st_size,
        delimiter="\t" if fmt.name == "tsv" else None,
    )
    lines = text.splitlines()[layout.skip_lines :]
    comment = layout.comment
    left_out = sum(
        1 for ln in lines if not ln.strip() or (comment and ln.lstrip().startswith(comment))
    )
    rows = _line_count(path) - layout.skip_lines - left_out - (1 if layout.header else 0)
    return max(0, rows), layout.columns


def _xlsx_shape(path: Path) -> tuple[int, int]:
    """(data rows, columns) of the first sheet. The stored blob has no extension, and openpyxl
    refuses a *path* without one: it is handed the open file instead."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings(), path.open("rb") as handle:
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                ws = wb.active or wb.worksheets[0]
                rows, columns = ws.max_row, ws.max_column
                if rows is None:  # no dimension recorded: count by streaming the rows
                    rows = columns = 0
                    for row in ws.iter_rows(values_only=True):
                        rows, columns = rows + 1, max(columns, len(row))
            finally:
                wb.close()
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        OSError,
        ValueError,
        IndexError,
        TypeError,
    ) as exc:
        raise Rejected(
            f"the file cannot be read as an Excel workbook ({_short(exc)})", 422
        ) from None
    return max(0, int(rows) - 1), int(columns or 0)


def _json_shape(path: Path) -> tuple[int, int | None]:
    """(records, columns): columns are the keys the records use (None when not known)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped.startswith((b"[", b"{")):
            raise Rejected("the file is not JSON (it must start with [ or {)", 422)
        if _is_json_lines(stripped):
            sample = [ln for ln in stripped.splitlines()[:-1] or stripped.splitlines() if ln]
            return _line_count(path), _columns_of(_loads_each(sample))
        if size > EXACT_JSON_UP_TO:
            return _estimate_json_rows(stripped, size), None
        f.seek(0)
        data = f.read()
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(f"the file is not valid JSON ({_short(exc)})", 422) from None
    records = find_records(value).records
    return len(records), _columns_of(records)


def _loads_each(lines: list[bytes]) -> list[Any]:
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _columns_of(records: list[Any]) -> int | None:
    """Distinct keys of object records, the length of the header of list records."""
    if records and isinstance(records[0], list):
        return len(records[0])
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r) if isinstance(r, dict) else {"value": None})
    return len(keys) if keys else None


def _is_json_lines(head: bytes) -> bool:
    """One JSON object per line (JSON Lines): the first line parses on its own."""
    if not head.startswith(b"{"):
        return False
    first, newline, _ = head.partition(b"\n")
    if not newline:
        return False
    try:
        json.loads(first)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def _estimate_json_rows(head: bytes, size: int) -> int:
    """Rows of a large JSON list: the average size of the records in the first MiB."""
    text = head.decode("utf-8", "ignore")
    start = text.find("[")
    if start < 0:
        return 1
    decoder = json.JSONDecoder()
    pos, count = start + 1, 0
    try:
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                break
            _, pos = decoder.raw_decode(text, pos)
            count += 1
    except json.JSONDecodeError:
        pass  # the sample ends inside a record
    if count == 0 or pos <= start:
        return 1
    return max(1, round(size / ((pos - start) / count)))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return without_paths(text)[:200]
