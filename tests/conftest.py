"""Fixtures: isolated databases (SQLite and PostgreSQL), settings, services, app, clients,
and factories for users and jobs."""

from __future__ import annotations

import os
from collections import Counter
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
from tests.s3server import MotoServer
from tests.tools import MISSING_TOOL

PASSWORD = "correct horse battery"
TEST_SECRET_KEY = "test-secret-key-shared-by-every-server-of-a-test"
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
        # a skip, said once in the summary's NOTE line (a warning is an error under our
        # filterwarnings, and would turn a newcomer's run red)
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
    missing = missing_tool_skips(terminalreporter.stats.get("skipped", []))
    if missing:
        tools = ", ".join(f"{why} ({n})" for why, n in sorted(missing.items()))
        terminalreporter.write_line(
            f"NOTE: {sum(missing.values())} test(s) skipped for a missing tool: {tools}. "
            "CI sets STAGECOACH_TEST_REQUIRE_ALL=1 to fail them instead.",
            yellow=True,
        )


def missing_tool_skips(skipped: list[Any]) -> Counter[str]:
    """How many of the ``skipped`` reports each missing tool caused (see tests/tools.py)."""
    found: Counter[str] = Counter()
    for report in skipped:
        longrepr = getattr(report, "longrepr", None)
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _, marker, why = message.partition(f"{MISSING_TOOL} ")
        if marker:
            found[why] += 1
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, sqlite_templates: SqliteTemplates) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_templates.new()
        return
    pg: PgTemplates = request.getfixturevalue("pg_templates")
    url = pg.new()
    yield url
    pg.drop(url)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.close()


@pytest.fixture
def s3_url(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://bucket/prefix`` of a fresh bucket; boto3 finds the server by the AWS_* variables."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.new_bucket()}/stagecoach"


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
            # PostgreSQL requires one (several API servers); SQLite would generate its own.
            "secret_key": TEST_SECRET_KEY,
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
