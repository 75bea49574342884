"""A client that goes away mid-upload, against a real uvicorn server (TestClient cannot
disconnect): the job ends failed, "Upload was interrupted", and the partial blob is gone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from stagecoach.app import create_app
from tests.conftest import PASSWORD
from tests.uploads_helpers import blobs, file_rows, multipart


@pytest.fixture
def server_port(settings, services) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings, services=services), log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)
    sock.close()


def _wait_for(predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_disconnect_mid_upload_fails_the_job(server_port, services, user_factory):
    user = user_factory()
    token = services.accounts.login(user.username, PASSWORD)
    wav = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(4 * 2**20)
    body, ctype = multipart([("first.csv", b"a,b\n1,2\n"), ("long.wav", wav)])
    head = (
        f"POST /api/v1/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
        f"\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server_port)) as s:
        s.sendall(head + body[: 2 * 2**20])
        # Wait until the server has started storing the second file, then cut the line.
        _wait_for(lambda: len(file_rows(services)) == 2 and blobs(services))
        s.shutdown(socket.SHUT_RDWR)

    def failed_job():
        docs, _ = services.tracking.list_jobs(user)
        return docs[0] if docs and docs[0]["status"] == "failed" else None

    job = _wait_for(failed_job)
    assert job["error"]["category"] == "input"
    assert job["error"]["retryable"] is False
    assert job["error"]["message"] == "Upload was interrupted"
    assert "Upload was interrupted" in job["message"]
    assert all(a["status"] == "failed" for a in job["artifacts"])
    _wait_for(lambda: blobs(services) == [])
    assert all(f["status"] == "failed" and f["stored_path"] is None for f in file_rows(services))
