"""/api/v1/files: an uploaded file's record and its content (with HTTP Range)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header
from fastapi.responses import FileResponse, JSONResponse
from starlette.types import Receive, Scope, Send

from stagecoach.api.deps import CurrentUser, ServicesDep
from stagecoach.api.problems import problem

router = APIRouter(prefix="/api/v1/files", tags=["files"])
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@router.get("/{file_id}")
def file_metadata(file_id: str, user: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    return services.files.metadata(user, file_id)


@router.get(
    "/{file_id}/content",
    response_model=None,
    responses={
        206: {"description": "Partial content"},
        416: {"description": "Range not satisfiable"},
    },
)
def file_content(
    file_id: str,
    user: CurrentUser,
    services: ServicesDep,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> FileResponse | JSONResponse:
    content = services.files.content(user, file_id)
    if range_ is not None and not satisfiable(range_, content.size):
        return problem(
            416,
            f"range '{range_[:100]}' is outside the file's {content.size} bytes",
            headers={"Content-Range": f"bytes */{content.size}"},
        )
    headers = {
        "Content-Disposition": content_disposition(content.name),
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
    }
    if content.sha256:
        headers["ETag"] = f'"{content.sha256}"'
    whole = range_ is not None and not is_byte_range(range_)
    response_class = WholeFileResponse if whole else FileResponse
    return response_class(content.path, media_type=content.mime, headers=headers)


class WholeFileResponse(FileResponse):
    """The whole file, whatever Range says (a range in a unit other than bytes is ignored)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


def is_byte_range(header: str) -> bool:
    unit, _, spec = header.partition("=")
    return unit.strip().lower() == "bytes" and bool(spec)


def satisfiable(header: str, size: int) -> bool:
    """Whether a ``bytes=`` Range header names at least one byte of the file. A header that
    is not a byte range is ignored (RFC 9110), so it counts as satisfiable."""
    if not is_byte_range(header):
        return True
    spec = header.partition("=")[2]
    for part in spec.split(","):
        m = _RANGE.match(part)
        if m is None:
            return False
        start, end = m.group(1), m.group(2)
        if start == "" and end == "":
            return False
        if start == "":
            if int(end) > 0 and size > 0:
                return True
        elif int(start) < size and (end == "" or int(end) >= int(start)):
            return True
    return False


def content_disposition(name: str) -> str:
    """attachment (never shown inline, so an uploaded HTML page cannot run), with an ASCII
    fallback name and the real one in RFC 8187 form."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\/;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(name)}"
