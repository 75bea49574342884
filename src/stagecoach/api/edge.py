"""The outermost layer: refuse what no route can mean, and add security headers to every
answer.

- A NUL byte in the path or the query string (``/api/v1/jobs/a%00b``, ``?case_name=%00``)
  is refused with 400 before any route runs: PostgreSQL text cannot hold it, and no id,
  name or filter contains one.
- Every response says ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``. Pages
  get a Content-Security-Policy that allows only this origin's scripts and forbids framing
  (no clickjacking of Cancel and Retry); API answers get one that allows nothing at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stagecoach.api.problems import problem

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
# /docs runs Swagger UI's inline start-up script (its assets are ours, api/docs.py): only
# framing is forbidden there.
DOCS_CSP = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def csp_for(path: str) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_CSP
    if path.startswith("/api/") or path in ("/metrics", "/healthz", "/openapi.json"):
        return API_CSP
    return PAGE_CSP


def has_nul(scope: Scope) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or b"%00" in query.lower()


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*COMMON, (b"content-security-policy", csp_for(scope["path"]).encode())]

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg["headers"] = _merged(msg.get("headers", []), extra)
            await send(msg)

        if has_nul(scope):
            refused = problem(400, "the path or query contains a NUL character")
            await refused(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


def _merged(
    headers: Iterable[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    out = list(headers)
    present = {name.lower() for name, _ in out}
    out.extend((name, value) for name, value in extra if name not in present)
    return out
