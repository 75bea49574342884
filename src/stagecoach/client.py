"""A Python client for a stagecoach server, sync (``Client``) and async (``AsyncClient``).

    from stagecoach.client import Client

    with Client.login("http://127.0.0.1:8000", "ana", "her password") as sc:
        job = sc.upload(["interview.mp3"], case_name="Case 12")
        done = sc.wait(job["job_id"], on_change=lambda s: print(s["progress"], s["eta_text"]))
        for r in sc.results(done["job_id"]):
            sc.download(done["job_id"], r["name"], "out/")

Every call returns the server's own JSON (the status contract of docs/status.md). An error
answer raises a ``StagecoachError`` subclass (``NotFound``, ``Unauthorized``, ``Conflict``,
...) that carries the problem+json fields; a server that cannot be reached raises
``Unreachable``. It talks HTTP only, like any other client: nothing here reaches the
database. ``client.reporter(...)`` (``stagecoach.reporter``) reports on a job from an
outside service.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse, connect_sse

if TYPE_CHECKING:
    from stagecoach.reporter import Reporter

DEFAULT_URL = "http://127.0.0.1:8000"
ENDED = frozenset({"completed", "failed", "cancelled", "expired"})
OK = (200, 201, 202, 204)

UploadProgress = Callable[[str, int, int], None]
"""``on_progress(filename, bytes_sent, file_size)``, called as each file's bytes go out."""


# --- errors -------------------------------------------------------------------------------
class StagecoachError(Exception):
    """The server answered with an error (problem+json), or could not be reached (status 0).

    ``problem`` is the whole problem+json body; ``errors`` lists a 422's fields.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail
        self.problem: dict[str, Any] = dict(problem or {})
        self.type = str(self.problem.get("type") or "about:blank")
        self.errors: list[dict[str, Any]] = list(self.problem.get("errors") or [])

    @classmethod
    def from_response(cls, r: httpx.Response) -> StagecoachError:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        kind = _BY_STATUS.get(r.status_code) or (ServerError if r.status_code >= 500 else cls)
        return kind(
            r.status_code,
            str(body.get("title") or r.reason_phrase),
            str(body.get("detail") or ""),
            problem=body,
        )


class Unreachable(StagecoachError):
    """No answer: the server is down, the address is wrong, or the network failed."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "Cannot reach the server", detail)


class BadRequest(StagecoachError):
    """400 or 422: the request itself is wrong (``errors`` says which field)."""


class Unauthorized(StagecoachError):
    """401: no token, or an unknown, expired or revoked one."""


class Forbidden(StagecoachError):
    """403: signed in, but not allowed."""


class NotFound(StagecoachError):
    """404: no such job, file or result (or one this account may not see)."""


class Conflict(StagecoachError):
    """409: not now (retrying a job that did not fail, reporting on an ended one)."""


class Refused(StagecoachError):
    """413 or 415: a file or body the server will not take (too large, not a format it reads)."""


class ServerError(StagecoachError):
    """5xx: the server failed; the request was not applied."""


_BY_STATUS: dict[int, type[StagecoachError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: Refused,
    415: Refused,
    422: BadRequest,
}


def _check(r: httpx.Response, ok: tuple[int, ...] = OK) -> httpx.Response:
    if r.status_code not in ok:
        raise StagecoachError.from_response(r)
    return r


# --- what each call sends: shared by both clients -----------------------------------------
@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = OK

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"headers": self.headers}
        if self.params:
            kw["params"] = {k: v for k, v in self.params.items() if v is not None}
        if self.json is not None:
            kw["json"] = self.json
        if self.data is not None:
            kw["data"] = self.data
        return kw


def _no_nones(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Calls:
    """The API, one request each (paths and bodies written once for both clients)."""

    @staticmethod
    def token(username: str, password: str) -> _Call:
        return _Call(
            "POST", "/api/v1/auth/token", data={"username": username, "password": password}
        )

    me = staticmethod(lambda: _Call("GET", "/api/v1/me"))
    revoke = staticmethod(lambda: _Call("POST", "/api/v1/auth/revoke"))
    status = staticmethod(lambda job_id: _Call("GET", f"/api/v1/jobs/{job_id}/status"))
    get_job = staticmethod(lambda job_id: _Call("GET", f"/api/v1/jobs/{job_id}"))
    timeline = staticmethod(lambda job_id: _Call("GET", f"/api/v1/jobs/{job_id}/timeline"))
    cancel = staticmethod(lambda job_id: _Call("POST", f"/api/v1/jobs/{job_id}/cancel"))
    retry = staticmethod(lambda job_id: _Call("POST", f"/api/v1/jobs/{job_id}/retry"))
    results = staticmethod(lambda job_id: _Call("GET", f"/api/v1/jobs/{job_id}/results"))
    result = staticmethod(
        lambda job_id, name: _Call("GET", f"/api/v1/jobs/{job_id}/results/{name}")
    )
    cases = staticmethod(lambda: _Call("GET", "/api/v1/cases"))
    case_jobs = staticmethod(lambda name: _Call("GET", f"/api/v1/cases/{name}/jobs"))

    @staticmethod
    def jobs(status: str | None, case_name: str | None, limit: int, offset: int) -> _Call:
        params = {"status": status, "case_name": case_name, "limit": limit, "offset": offset}
        return _Call("GET", "/api/v1/jobs", params=params)

    @staticmethod
    def create_job(**body: Any) -> _Call:
        return _Call("POST", "/api/v1/jobs", json=_no_nones(**body))

    @staticmethod
    def report(job_id: str, **body: Any) -> _Call:
        return _Call("PATCH", f"/api/v1/jobs/{job_id}", json=_no_nones(**body))

    @staticmethod
    def poll(job_id: str, etag: str | None) -> _Call:
        headers = {"If-None-Match": etag} if etag else {}
        return _Call("GET", f"/api/v1/jobs/{job_id}/status", headers=headers, ok=(200, 304))


class _CountingFile:
    """A file that tells ``on_progress`` how much of it the upload has read."""

    def __init__(self, f: BinaryIO, name: str, on_progress: UploadProgress) -> None:
        self._f, self._name, self._on_progress = f, name, on_progress
        self._size = os.fstat(f.fileno()).st_size

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        self._on_progress(self._name, self._f.tell(), self._size)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def fileno(self) -> int:
        return self._f.fileno()


Uploadable = str | Path | tuple[str, BinaryIO]
"""A path, or ``(filename, binary file object)`` for bytes that are not on disk."""


def _upload_parts(
    stack: ExitStack, paths: Iterable[Uploadable], on_progress: UploadProgress | None
) -> list[tuple[str, tuple[str, Any, str]]]:
    files: list[tuple[str, tuple[str, Any, str]]] = []
    for item in paths:
        f: Any
        if isinstance(item, tuple):
            name, f = item
        else:
            name = Path(item).name
            f = stack.enter_context(open(item, "rb"))  # noqa: SIM115
            if on_progress is not None:
                f = _CountingFile(f, name, on_progress)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(("files", (name, f, ctype)))
    if not files:
        raise ValueError("no files to upload")
    return files


def _upload_form(**fields: str | None) -> dict[str, str]:
    return {k: v for k, v in fields.items() if v}


@dataclass
class _EventCursor:
    """Where an event stream stands, so a reconnect resumes with ``Last-Event-ID``."""

    last_id: int | None
    failures: int = 0

    def headers(self) -> dict[str, str]:
        return {"Last-Event-ID": str(self.last_id)} if self.last_id is not None else {}

    def take(self, sse: ServerSentEvent) -> dict[str, Any] | None:
        self.failures = 0
        if sse.id:
            self.last_id = int(sse.id)
        return sse.json() if sse.data else None

    def backoff(self, exc: Exception, max_failures: int | None) -> float:
        self.failures += 1
        if max_failures is not None and self.failures > max_failures:
            raise exc
        return min(0.2 * 2 ** (self.failures - 1), 10.0)


def _events_path(job_id: str | None) -> str:
    return f"/api/v1/jobs/{job_id}/events" if job_id else "/api/v1/events"


def _ensure_reachable(exc: httpx.HTTPError) -> Unreachable:
    return Unreachable(str(exc) or type(exc).__name__)


def _saved_name(name: str) -> str:
    """The last part of a name only: a result name never picks the folder it lands in."""
    return Path(name.replace("\\", "/")).name


# --- sync ---------------------------------------------------------------------------------
class Client:
    """One server, one bearer token. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def login(cls, base_url: str, username: str, password: str, **kwargs: Any) -> Client:
        """A client holding a fresh token for this account."""
        with cls(base_url, None, transport=kwargs.get("transport")) as anon:
            token = str(anon._json(_Calls.token(username, password))["access_token"])
        return cls(base_url, token, **kwargs)

    # --- plumbing ------------------------------------------------------------------------
    def _send(self, call: _Call) -> httpx.Response:
        try:
            r = self._http.request(call.method, call.path, **call.kwargs())
        except httpx.HTTPError as exc:
            raise _ensure_reachable(exc) from exc
        return _check(r, call.ok)

    def _json(self, call: _Call) -> Any:
        return self._send(call).json()

    # --- accounts ------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """Who this token belongs to: user_id, username, role."""
        return dict(self._json(_Calls.me()))

    def logout(self) -> None:
        """Revoke this client's token on the server."""
        self._send(_Calls.revoke())

    # --- jobs ----------------------------------------------------------------------------
    def status(self, job_id: str) -> dict[str, Any]:
        """The job's status document."""
        return dict(self._json(_Calls.status(job_id)))

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(_Calls.get_job(job_id)))

    def jobs(
        self,
        *,
        status: str | None = None,
        case_name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """Visible jobs, newest first: ``{"jobs": [...], "total", "limit", "offset"}``."""
        return dict(self._json(_Calls.jobs(status, case_name, limit, offset)))

    def timeline(self, job_id: str) -> list[dict[str, Any]]:
        """Every status and stage change of the job, in order."""
        return list(self._json(_Calls.timeline(job_id))["entries"])

    def create_job(
        self,
        *,
        stages: list[str] | None = None,
        duration_total: float | None = None,
        unit: str | None = None,
        case_name: str | None = None,
        parent_job_id: str | None = None,
        related_file_ids: list[str] | None = None,
    ) -> dict[str, Any]:
        """A job to report on yourself (stagecoach's workers never claim it)."""
        return dict(
            self._json(
                _Calls.create_job(
                    stages=stages,
                    duration_total=duration_total,
                    unit=unit,
                    case_name=case_name,
                    parent_job_id=parent_job_id,
                    related_file_ids=related_file_ids,
                )
            )
        )

    def report(self, job_id: str, **fields: Any) -> dict[str, Any]:
        """One status report (the PATCH body: status, current_stage, progress, message,
        error, duration_processed, seq); returns the job's status document."""
        return dict(self._json(_Calls.report(job_id, **fields)))

    def upload(
        self,
        paths: Iterable[Uploadable],
        *,
        case_name: str | None = None,
        parent_job_id: str | None = None,
        pipeline: str | None = None,
        on_progress: UploadProgress | None = None,
    ) -> dict[str, Any]:
        """Upload files as one job; returns its status document (streamed, not read whole).

        ``paths``: file paths, or ``(filename, binary file)`` pairs; ``on_progress`` hears
        of the bytes sent of each file on disk."""
        data = _upload_form(case_name=case_name, parent_job_id=parent_job_id, pipeline=pipeline)
        with ExitStack() as stack:
            files = _upload_parts(stack, paths, on_progress)
            try:
                r = self._http.post("/api/v1/upload", files=files, data=data)
            except httpx.HTTPError as exc:
                raise _ensure_reachable(exc) from exc
        return dict(_check(r).json())

    def wait(
        self,
        job_id: str,
        *,
        poll_seconds: float = 1.0,
        timeout: float | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends (completed, failed, cancelled, expired); its last status.

        Polls with the ETag, so an unchanged status costs the server a 304. ``on_change`` is
        called with each new status document. ``TimeoutError`` past ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        etag, doc = None, None
        while True:
            r = self._send(_Calls.poll(job_id, etag))
            if r.status_code == 200:
                etag, doc = r.headers.get("ETag"), dict(r.json())
                if on_change is not None:
                    on_change(doc)
            assert doc is not None  # a 304 only answers an ETag we got with a 200
            if doc["status"] in ENDED:
                return doc
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {doc['status']} after {timeout} s")
            time.sleep(poll_seconds)

    def events(
        self,
        job_id: str | None = None,
        *,
        last_event_id: int | None = None,
        max_failures: int | None = 10,
    ) -> Iterator[dict[str, Any]]:
        """Live status documents (Server-Sent Events) of one job, or of every visible job.

        A dropped stream is reopened with ``Last-Event-ID``, so nothing in between is lost;
        after ``max_failures`` failed reconnects in a row the last error is raised. A stream
        of one job ends when the job does.
        """
        cursor = _EventCursor(last_event_id)
        path = _events_path(job_id)
        while True:
            try:
                with connect_sse(
                    self._http, "GET", path, headers=cursor.headers(), timeout=None
                ) as source:
                    _check(source.response, (200,))
                    for sse in source.iter_sse():
                        doc = cursor.take(sse)
                        if doc is None:
                            continue
                        yield doc
                        if job_id and doc.get("status") in ENDED:
                            return
            except httpx.HTTPError as exc:
                time.sleep(cursor.backoff(_ensure_reachable(exc), max_failures))
            except ServerError as exc:
                time.sleep(cursor.backoff(exc, max_failures))
            else:
                time.sleep(cursor.backoff(Unreachable("the event stream ended"), max_failures))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(_Calls.cancel(job_id)))

    def retry(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(_Calls.retry(job_id)))

    def reporter(
        self,
        *,
        stages: list[str] | None = None,
        duration_total: float | None = None,
        unit: str | None = None,
        case_name: str | None = None,
        parent_job_id: str | None = None,
        job_id: str | None = None,
        min_interval: float = 1.0,
    ) -> Reporter:
        """A ``Reporter`` for a new tracked job, or (``job_id``) for an existing one."""
        from stagecoach.reporter import Reporter

        if job_id is not None:
            return Reporter.attach(self, job_id, min_interval=min_interval)
        doc = self.create_job(
            stages=stages,
            duration_total=duration_total,
            unit=unit,
            case_name=case_name,
            parent_job_id=parent_job_id,
        )
        return Reporter(self, doc, min_interval=min_interval)

    # --- results and cases ---------------------------------------------------------------
    def results(self, job_id: str) -> list[dict[str, Any]]:
        """The job's result files: name, size, mime, the file they came from."""
        return list(self._json(_Calls.results(job_id))["results"])

    def download(
        self, job_id: str, name: str, folder: str | Path, *, as_name: str | None = None
    ) -> Path:
        """Save one result file into ``folder`` (made if missing), under ``as_name`` if given
        (a listing's ``download_name``); returns its path."""
        target = Path(folder) / _saved_name(as_name or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        try:
            with self._http.stream("GET", f"/api/v1/jobs/{job_id}/results/{name}") as r:
                if r.status_code != 200:
                    r.read()
                    raise StagecoachError.from_response(r)
                with open(part, "wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise _ensure_reachable(exc) from exc
        part.replace(target)  # never a half-written file under the real name
        return target

    def result_bytes(self, job_id: str, name: str) -> bytes:
        """One result file's content, in memory (``download`` writes large ones to disk)."""
        return self._send(_Calls.result(job_id, name)).content

    def cases(self) -> list[dict[str, Any]]:
        """The cases this account may see, with their job counts."""
        return list(self._json(_Calls.cases())["cases"])

    def case_jobs(self, name: str) -> dict[str, Any]:
        """One case and its jobs."""
        return dict(self._json(_Calls.case_jobs(name)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- async --------------------------------------------------------------------------------
class AsyncClient:
    """``Client``'s async twin (the same calls, awaited), for asyncio services."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    async def login(cls, base_url: str, username: str, password: str, **kwargs: Any) -> AsyncClient:
        async with cls(base_url, None, transport=kwargs.get("transport")) as anon:
            token = str((await anon._json(_Calls.token(username, password)))["access_token"])
        return cls(base_url, token, **kwargs)

    async def _send(self, call: _Call) -> httpx.Response:
        try:
            r = await self._http.request(call.method, call.path, **call.kwargs())
        except httpx.HTTPError as exc:
            raise _ensure_reachable(exc) from exc
        return _check(r, call.ok)

    async def _json(self, call: _Call) -> Any:
        return (await self._send(call)).json()

    async def me(self) -> dict[str, Any]:
        return dict(await self._json(_Calls.me()))

    async def logout(self) -> None:
        await self._send(_Calls.revoke())

    async def status(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json(_Calls.status(job_id)))

    async def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json(_Calls.get_job(job_id)))

    async def jobs(
        self,
        *,
        status: str | None = None,
        case_name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        return dict(await self._json(_Calls.jobs(status, case_name, limit, offset)))

    async def timeline(self, job_id: str) -> list[dict[str, Any]]:
        return list((await self._json(_Calls.timeline(job_id)))["entries"])

    async def create_job(self, **body: Any) -> dict[str, Any]:
        """See ``Client.create_job``."""
        return dict(await self._json(_Calls.create_job(**body)))

    async def report(self, job_id: str, **fields: Any) -> dict[str, Any]:
        return dict(await self._json(_Calls.report(job_id, **fields)))

    async def upload(
        self,
        paths: Iterable[Uploadable],
        *,
        case_name: str | None = None,
        parent_job_id: str | None = None,
        pipeline: str | None = None,
        on_progress: UploadProgress | None = None,
    ) -> dict[str, Any]:
        data = _upload_form(case_name=case_name, parent_job_id=parent_job_id, pipeline=pipeline)
        with ExitStack() as stack:
            files = _upload_parts(stack, paths, on_progress)
            try:
                r = await self._http.post("/api/v1/upload", files=files, data=data)
            except httpx.HTTPError as exc:
                raise _ensure_reachable(exc) from exc
        return dict(_check(r).json())

    async def wait(
        self,
        job_id: str,
        *,
        poll_seconds: float = 1.0,
        timeout: float | None = None,
        on_change: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
    ) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        etag, doc = None, None
        while True:
            r = await self._send(_Calls.poll(job_id, etag))
            if r.status_code == 200:
                etag, doc = r.headers.get("ETag"), dict(r.json())
                if on_change is not None:
                    maybe = on_change(doc)
                    if maybe is not None:
                        await maybe
            assert doc is not None
            if doc["status"] in ENDED:
                return doc
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {doc['status']} after {timeout} s")
            await asyncio.sleep(poll_seconds)

    async def events(
        self,
        job_id: str | None = None,
        *,
        last_event_id: int | None = None,
        max_failures: int | None = 10,
    ) -> AsyncIterator[dict[str, Any]]:
        cursor = _EventCursor(last_event_id)
        path = _events_path(job_id)
        while True:
            try:
                async with aconnect_sse(
                    self._http, "GET", path, headers=cursor.headers(), timeout=None
                ) as source:
                    _check(source.response, (200,))
                    async for sse in source.aiter_sse():
                        doc = cursor.take(sse)
                        if doc is None:
                            continue
                        yield doc
                        if job_id and doc.get("status") in ENDED:
                            return
            except httpx.HTTPError as exc:
                await asyncio.sleep(cursor.backoff(_ensure_reachable(exc), max_failures))
            except ServerError as exc:
                await asyncio.sleep(cursor.backoff(exc, max_failures))
            else:
                await asyncio.sleep(
                    cursor.backoff(Unreachable("the event stream ended"), max_failures)
                )

    async def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json(_Calls.cancel(job_id)))

    async def retry(self, job_id: str) -> dict[str, Any]:
        return dict(await self._json(_Calls.retry(job_id)))

    async def results(self, job_id: str) -> list[dict[str, Any]]:
        return list((await self._json(_Calls.results(job_id)))["results"])

    async def download(
        self, job_id: str, name: str, folder: str | Path, *, as_name: str | None = None
    ) -> Path:
        """Save one result file into ``folder`` (made if missing), under ``as_name`` if given
        (a listing's ``download_name``); returns its path."""
        target = Path(folder) / _saved_name(as_name or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        try:
            async with self._http.stream("GET", f"/api/v1/jobs/{job_id}/results/{name}") as r:
                if r.status_code != 200:
                    await r.aread()
                    raise StagecoachError.from_response(r)
                with open(part, "wb") as f:
                    async for chunk in r.aiter_bytes():
                        f.write(chunk)
        except httpx.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise _ensure_reachable(exc) from exc
        part.replace(target)
        return target

    async def result_bytes(self, job_id: str, name: str) -> bytes:
        return (await self._send(_Calls.result(job_id, name))).content

    async def cases(self) -> list[dict[str, Any]]:
        return list((await self._json(_Calls.cases()))["cases"])

    async def case_jobs(self, name: str) -> dict[str, Any]:
        return dict(await self._json(_Calls.case_jobs(name)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
