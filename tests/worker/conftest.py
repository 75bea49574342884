"""Fixtures for the worker: services on a real clock, stored files, claimable jobs, workers."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from stagecoach.domain.records import User
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.services.tracking import NewJob
from stagecoach.settings import Settings
from stagecoach.store import files as files_store
from stagecoach.worker.worker import Worker
from tests.worker.pipelines import PIPELINES

FAST = {
    "lease_seconds": 2,
    "retry_backoff_seconds": 0.2,
    "progress_write_interval": 0.2,
    "stall_after": 300,
}


@pytest.fixture
def wsettings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**FAST)


@pytest.fixture
def wservices(wsettings: Settings) -> Iterator[Services]:
    svc = Services(ServiceContext.from_settings(wsettings))
    svc.accounts.ensure_admin()
    yield svc
    svc.ctx.db.dispose()


@pytest.fixture
def owner(wservices: Services) -> User:
    return wservices.accounts.create_user(f"owner{uuid.uuid4().hex[:6]}", "pw-pw-pw-pw", "analyst")


@pytest.fixture
def make_file(wservices: Services, owner: User) -> Callable[..., str]:
    def make(content: bytes = b"x" * 4096, name: str = "file.bin", user: User | None = None) -> str:
        file_id = str(uuid.uuid4())
        key = f"uploads/{file_id}"
        with wservices.storage.open_write(key) as f:
            f.write(content)
        with wservices.ctx.db.write() as conn:
            files_store.insert_file(
                conn,
                file_id=file_id,
                owner_id=(user or owner).user_id,
                original_name=name,
                stored_path=key,
                type="other",
                mime="application/octet-stream",
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                upload_time=datetime.now(UTC),
                status="stored",
            )
        return file_id

    return make


@pytest.fixture
def make_job(wservices: Services, owner: User, make_file: Callable[..., str]):
    def make(pipeline: str = "trivial", files: list[str] | None = None, **kw: Any) -> str:
        if files is None:
            files = [make_file()]
        doc = wservices.tracking.create_job(
            owner, NewJob(related_file_ids=files, pipeline=pipeline, claimable=True, **kw)
        )
        return str(doc["job_id"])

    return make


@pytest.fixture
def start_worker(wservices: Services) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**kw: Any) -> Worker:
        kw.setdefault("pipelines", PIPELINES)
        kw.setdefault("poll_interval", 0.05)
        w = Worker(wservices.ctx, wservices.storage, **kw)
        w.start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop(timeout=5)


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


def job_row(services: Services, job_id: str):  # type: ignore[no-untyped-def]
    from stagecoach.store import jobs as store

    with services.ctx.db.read() as conn:
        return store.get_job(conn, job_id)


def file_of(services: Services, job_id: str):  # type: ignore[no-untyped-def]
    """The job's (first) file, as stored: its lease, token and attempts."""
    from stagecoach.store import jobs as store

    with services.ctx.db.read() as conn:
        return store.job_artifacts(conn, job_id)[0]


def status_of(services: Services, owner: User, job_id: str) -> dict[str, Any]:
    return services.tracking.status(owner, job_id)


def timeline_of(services: Services, owner: User, job_id: str) -> list[Any]:
    return services.tracking.timeline(owner, job_id)
