"""A streaming multipart/form-data reader: the request body becomes a flat series of events
(a field, a file's start, its data chunk by chunk, its end), never held whole in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from stagecoach.services.errors import Invalid, TooLarge, UnsupportedMedia
from stagecoach.services.uploads import FieldPart, FileData, FileEnd, FileStart, UploadInterrupted

MAX_FIELD_BYTES = 4096
MAX_HEADER_BYTES = 16384
MAX_PARTS = 1000


async def read_parts(
    content_type: str | None, body: AsyncIterator[bytes]
) -> AsyncIterator[FieldPart | FileStart | FileData | FileEnd]:
    """Events of a multipart body. A client that goes away raises ``UploadInterrupted``."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia("send the files as multipart/form-data (field 'files')")
    events: list[Any] = []
    state: dict[str, Any] = {
        "headers": {},
        "field": b"",
        "value": b"",
        "name": None,
        "file": False,
        "header_bytes": 0,
        "parts": 0,
    }

    def on_part_begin() -> None:
        state.update(headers={}, name=None, file=False, value=bytearray(), header_bytes=0)
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            raise TooLarge(f"too many parts in the form (more than {MAX_PARTS})")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]
        _count_header(end - start)

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]
        _count_header(end - start)

    def _count_header(n: int) -> None:
        state["header_bytes"] += n
        if state["header_bytes"] > MAX_HEADER_BYTES:
            raise Invalid("a part of the form has headers that are too long")

    def on_header_end() -> None:
        state["headers"][bytes(state["field"]).lower()] = bytes(state["value"])
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        disposition, options = parse_options_header(
            state["headers"].get(b"content-disposition", b"")
        )
        name = options.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        state["value"] = bytearray()
        if b"filename" in options:
            state["file"] = True
            part_type = state["headers"].get(b"content-type", b"application/octet-stream")
            events.append(
                FileStart(
                    field=name,
                    filename=options[b"filename"],
                    content_type=part_type.decode("latin-1"),
                )
            )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["file"]:
            events.append(FileData(data[start:end]))
            return
        state["value"] += data[start:end]
        if len(state["value"]) > MAX_FIELD_BYTES:
            raise Invalid(f"form field '{state['name']}' is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        if state["file"]:
            events.append(FileEnd())
        elif state["name"] is not None:
            value = bytes(state["value"]).decode("utf-8", "replace")
            events.append(FieldPart(state["name"], value))
        state["value"] = b""

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )
    try:
        async for chunk in body:
            if not chunk:
                continue
            try:
                parser.write(chunk)
            except (Invalid, TooLarge):
                raise
            except Exception as exc:  # python-multipart's own parse errors
                raise Invalid(f"the multipart body is malformed: {exc}") from None
            for event in events:
                yield event
            events.clear()
    except ClientDisconnect:
        raise UploadInterrupted() from None
    parser.finalize()
    for event in events:
        yield event
    if not state.get("ended"):
        raise Invalid("the multipart body ended before its closing boundary")
