"""A Python client for a stagecoach server: upload files, follow their status, fetch results.

    from stagecoach.client import Client

    with Client.login("http://127.0.0.1:8000", "ana", "her password") as sc:
        job = sc.upload(["interview.mp3"], case_name="Case 12")
        done = sc.wait(job["job_id"], on_change=lambda s: print(s["progress"], s["eta_text"]))
        for r in sc.results(done["job_id"]):
            sc.download(done["job_id"], r["name"], "out/")

Every call returns the server's own JSON (the status contract of docs/status.md); an error
answer raises ``StagecoachError`` with the problem+json title and detail. It talks HTTP only,
like any other client: nothing here reaches the database.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
ENDED = frozenset({"completed", "failed", "cancelled", "expired"})


class StagecoachError(Exception):
    """The server answered with an error (problem+json), or could not be reached."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail

    @classmethod
    def from_response(cls, r: httpx.Response) -> StagecoachError:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(
            r.status_code, str(body.get("title") or r.reason_phrase), str(body.get("detail") or "")
        )


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
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def login(cls, base_url: str, username: str, password: str, **kwargs: Any) -> Client:
        """A client holding a fresh token for this account."""
        with httpx.Client(base_url=base_url.rstrip("/"), transport=kwargs.get("transport")) as h:
            r = _send(
                lambda: h.post(
                    "/api/v1/auth/token", data={"username": username, "password": password}
                )
            )
        return cls(base_url, str(r.json()["access_token"]), **kwargs)

    # --- jobs ----------------------------------------------------------------------------
    def status(self, job_id: str) -> dict[str, Any]:
        """The job's status document."""
        return dict(self._get(f"/api/v1/jobs/{job_id}/status").json())

    def upload(
        self,
        paths: Iterable[str | Path],
        *,
        case_name: str | None = None,
        parent_job_id: str | None = None,
    ) -> dict[str, Any]:
        """Upload files as one job; returns its status document (streamed, not read whole)."""
        data = {k: v for k, v in (("case_name", case_name), ("parent_job_id", parent_job_id)) if v}
        with ExitStack() as stack:
            files = []
            for p in map(Path, paths):
                ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
                files.append(("files", (p.name, stack.enter_context(open(p, "rb")), ctype)))
            if not files:
                raise ValueError("no files to upload")
            r = _send(lambda: self._http.post("/api/v1/upload", files=files, data=data))
        return dict(r.json())

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
            headers: dict[str, str] = {"If-None-Match": etag} if etag else {}
            r = _send(
                partial(self._http.get, f"/api/v1/jobs/{job_id}/status", headers=headers),
                ok=(200, 304),
            )
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

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(_send(lambda: self._http.post(f"/api/v1/jobs/{job_id}/cancel")).json())

    def retry(self, job_id: str) -> dict[str, Any]:
        return dict(_send(lambda: self._http.post(f"/api/v1/jobs/{job_id}/retry")).json())

    # --- results -------------------------------------------------------------------------
    def results(self, job_id: str) -> list[dict[str, Any]]:
        """The job's result files: name, size, mime, the file they came from."""
        return list(self._get(f"/api/v1/jobs/{job_id}/results").json()["results"])

    def download(self, job_id: str, name: str, folder: str | Path) -> Path:
        """Save one result file into ``folder`` (made if missing); returns its path."""
        target = Path(folder) / Path(name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        with self._http.stream("GET", f"/api/v1/jobs/{job_id}/results/{name}") as r:
            if r.status_code != 200:
                r.read()
                raise StagecoachError.from_response(r)
            with open(part, "wb") as f:
                for chunk in r.iter_bytes():
                    f.write(chunk)
        part.replace(target)  # never a half-written file under the real name
        return target

    # --- plumbing ------------------------------------------------------------------------
    def _get(self, path: str) -> httpx.Response:
        return _send(lambda: self._http.get(path))

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


def _send(
    request: Callable[[], httpx.Response], ok: tuple[int, ...] = (200, 201, 202, 204)
) -> httpx.Response:
    try:
        r = request()
    except httpx.HTTPError as exc:
        raise StagecoachError(0, "Cannot reach the server", str(exc)) from exc
    if r.status_code not in ok:
        raise StagecoachError.from_response(r)
    return r
