"""Fixtures: isolated databases (SQLite and PostgreSQL), settings, services, app, clients,
and factories for users and jobs."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stagecoach.app import create_app
from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings
from tests.dbs import REQUIRE_PG, PgTemplates, SqliteTemplates, pg_available

PASSWORD = "correct horse battery"
# Servers and workers the tests start calibrate only when a test asks (settings: calibrate).
os.environ.setdefault("STAGECOACH_CALIBRATE", "false")


class FakeClock:
    """A clock the test moves by hand (time is outside the system under test)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 9, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("sqlite"))


_pg_state: dict[str, Any] = {}


@pytest.fixture(scope="session")
def pg_templates() -> Iterator[PgTemplates]:
    why = pg_available()
    if why is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (STAGECOACH_TEST_REQUIRE_POSTGRES=1): {why}")
        warnings.warn(f"PostgreSQL not reachable, its tests are skipped: {why}", stacklevel=1)
        pytest.skip(f"PostgreSQL not reachable: {why}")
    t = PgTemplates()
    yield t
    t.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if pg_available() is not None:
        terminalreporter.write_line(
            "NOTE: PostgreSQL was not reachable; tests marked 'postgres' were skipped.",
            yellow=True,
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, sqlite_templates: SqliteTemplates) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_templates.new()
        return
    pg: PgTemplates = request.getfixturevalue("pg_templates")
    url = pg.new()
    yield url
    pg.drop(url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings(tmp_path: Path, db_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "admin_password": "admin-password",
            "calibrate": False,  # tests that calibrate turn it on themselves
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def services(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    svc = Services(ServiceContext.from_settings(settings, clock=clock))
    svc.accounts.ensure_admin()
    yield svc
    svc.ctx.db.dispose()


@pytest.fixture
def app(settings: Settings, services: Services) -> Any:
    return create_app(settings, services=services)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def user_factory(services: Services) -> Callable[..., User]:
    counter = iter(range(10_000))

    def make(role: str = "analyst", manager: str | None = None, name: str | None = None) -> User:
        return services.accounts.create_user(
            name or f"{role}{next(counter)}", PASSWORD, role, manager
        )

    return make


@pytest.fixture
def login(client: TestClient) -> Callable[[str], dict[str, str]]:
    def do(username: str, password: str = PASSWORD) -> dict[str, str]:
        r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return do


@pytest.fixture
def analyst(user_factory: Callable[..., User], login: Callable[[str], dict[str, str]]):
    user = user_factory("analyst")
    return user, login(user.username)


@pytest.fixture
def job_factory(client: TestClient) -> Callable[..., dict[str, Any]]:
    def make(headers: dict[str, str], **body: Any) -> dict[str, Any]:
        body.setdefault("stages", ["Uploading", "Transcribing", "Analyzing"])
        r = client.post("/api/v1/jobs", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests run with the coverage subprocess hook; nothing else to adjust.
    os.environ.setdefault("STAGECOACH_LOG_FORMAT", "text")
