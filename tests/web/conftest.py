"""Fixtures for the pages and live events: files, signed-in browsers, a real server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stagecoach.app import create_app
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings
from stagecoach.store import files as files_store
from tests.conftest import PASSWORD
from tests.web.live_server import LiveServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def file_factory(services: Services) -> Callable[..., str]:
    def make(owner: User, name: str = "interview.wav", type_: str = "audio") -> str:
        file_id = str(uuid.uuid4())
        with services.ctx.db.write() as conn:
            files_store.insert_file(
                conn,
                file_id=file_id,
                owner_id=owner.user_id,
                original_name=name,
                stored_path=None,
                type=type_,
                mime="application/octet-stream",
                size=10,
                upload_time=datetime.now(UTC),
                status="stored",
            )
        return file_id

    return make


@pytest.fixture
def sign_in(client: TestClient) -> Callable[..., TestClient]:
    """Sign the test client's browser in through the login form."""

    def do(username: str, password: str = PASSWORD) -> TestClient:
        token = csrf_of(client.get("/login").text)
        r = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        return client

    return do


@pytest.fixture
def live_services(settings: Settings) -> Iterator[Services]:
    """Services on the real clock (the live server serves browsers and SSE in real time)."""
    svc = Services(ServiceContext.from_settings(settings))
    svc.accounts.ensure_admin()
    yield svc
    svc.ctx.db.dispose()


@pytest.fixture
def live_server(settings: Settings, live_services: Services) -> Iterator[LiveServer]:
    app = create_app(settings, services=live_services)
    with LiveServer(app) as server:
        yield server


def api_token(base_url: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    import httpx

    r = httpx.post(
        f"{base_url}/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def sse_events(lines: Any, limit: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Read ``limit`` events (dicts of id/event/data) from an iterator of SSE lines."""
    import json
    import time

    out: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line == "":
            if "data" in current:
                current["data"] = json.loads(current["data"])
                out.append(current)
                if len(out) >= limit:
                    break
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        current[key] = value[1:] if value.startswith(" ") else value
    return out
