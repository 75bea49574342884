"""One secret for every API server: forms and sessions from one work on another; startup
refuses PostgreSQL without STAGECOACH_SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stagecoach.app import ConfigError, create_app
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings
from tests.web.conftest import csrf_of

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stagecoach_never_reached"


@pytest.fixture
def two_servers(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Callable[..., tuple[TestClient, TestClient]]]:
    """Two API servers over one database, each with its own data directory."""
    with ExitStack() as stack:

        def make(**overrides: object) -> tuple[TestClient, TestClient]:
            clients = []
            for name in ("api1", "api2"):
                s = make_settings(data_dir=tmp_path / name, **overrides)
                svc = Services(ServiceContext.from_settings(s))
                stack.callback(svc.ctx.db.dispose)
                svc.accounts.ensure_admin()
                clients.append(stack.enter_context(TestClient(create_app(s, services=svc))))
            return clients[0], clients[1]

        yield make


def _form_from_one_posted_to_the_other(one: TestClient, other: TestClient) -> int:
    token = csrf_of(one.get("/login").text)
    other.cookies.set("stagecoach_csrf", one.cookies["stagecoach_csrf"])
    r = other.post(
        "/login",
        data={"username": "admin", "password": "admin-password", "csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code


def test_a_form_from_one_server_and_its_session_work_on_another(two_servers):
    api1, api2 = two_servers()
    assert _form_from_one_posted_to_the_other(api1, api2) == 303
    api1.cookies.set("stagecoach_session", api2.cookies["stagecoach_session"])
    page = api1.get("/", follow_redirects=False)
    assert page.status_code == 200 and "admin" in page.text
    # and a form rendered by api1 for the signed-in browser posts to api2
    api2.cookies.set("stagecoach_csrf", api1.cookies["stagecoach_csrf"])
    r = api2.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303


def test_servers_with_keys_of_their_own_refuse_each_others_forms(two_servers, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL refuses to start without a shared key (tested below)")
    api1, api2 = two_servers(secret_key=None)  # each generates one in its data directory
    assert _form_from_one_posted_to_the_other(api1, api2) == 403


def test_postgresql_without_a_secret_key_refuses_to_start(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, database_url=PG_URL)
    with pytest.raises(ConfigError, match="STAGECOACH_SECRET_KEY is required"):
        create_app(settings)
    for blank in ("", "   "):
        with pytest.raises(ConfigError):
            create_app(Settings(data_dir=tmp_path, database_url=PG_URL, secret_key=blank))
    assert Settings(data_dir=tmp_path).shared_secret_missing() is None  # SQLite: one host


def test_serve_says_what_to_set_and_exits(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
    env.update(STAGECOACH_DATA_DIR=str(tmp_path), STAGECOACH_DATABASE_URL=PG_URL)
    r = subprocess.run(
        [sys.executable, "-m", "stagecoach", "serve", "--no-worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "STAGECOACH_SECRET_KEY is required" in r.stderr
    assert "secrets.token_urlsafe" in r.stderr  # how to make one
