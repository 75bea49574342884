"""Stored blobs over HTTP: streamed from any storage, with HTTP Range (one byte range)."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from stagecoach.api.problems import problem
from stagecoach.storage.base import Storage

_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def blob_response(
    storage: Storage,
    key: str,
    size: int,
    media_type: str,
    headers: dict[str, str],
    range_header: str | None = None,
) -> Response:
    """200 with the whole blob, 206 with the one range asked for, or 416. A Range that is
    not in bytes, or asks for several ranges, is answered with the whole blob (RFC 9110
    lets a server ignore Range)."""
    headers = {**headers, "Accept-Ranges": "bytes"}
    if range_header is not None and not satisfiable(range_header, size):
        return problem(
            416,
            f"range '{range_header[:100]}' is outside the file's {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
    span = single_range(range_header, size) if range_header is not None else None
    if span is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(storage.read(key), media_type=media_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        storage.read(key, start, end), status_code=206, media_type=media_type, headers=headers
    )


def is_byte_range(header: str) -> bool:
    unit, _, spec = header.partition("=")
    return unit.strip().lower() == "bytes" and bool(spec)


def _spans(header: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable byte spans of a ``bytes=`` header; None when one part is malformed."""
    spans = []
    for part in header.partition("=")[2].split(","):
        m = _RANGE.match(part)
        if m is None:
            return None
        start, end = m.group(1), m.group(2)
        if start == "" and end == "":
            return None
        if start == "":
            if int(end) > 0 and size > 0:
                spans.append((max(0, size - int(end)), size - 1))
        elif int(start) < size and (end == "" or int(end) >= int(start)):
            spans.append((int(start), size - 1 if end == "" else min(int(end), size - 1)))
    return spans


def satisfiable(header: str, size: int) -> bool:
    """Whether a ``bytes=`` Range header names at least one byte of the file. A header that
    is not a byte range is ignored (RFC 9110), so it counts as satisfiable."""
    if not is_byte_range(header):
        return True
    return bool(_spans(header, size))


def single_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a header asking for one satisfiable range, else None."""
    if not is_byte_range(header) or "," in header:
        return None
    spans = _spans(header, size)
    return spans[0] if spans else None


def content_disposition(name: str) -> str:
    """attachment (never shown inline, so an uploaded HTML page cannot run), with an ASCII
    fallback name and the real one in RFC 8187 form."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\/;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name)}"
