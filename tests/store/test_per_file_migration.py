"""Migration 0004 (per-file pipelines) carries a database of the version before over: its
jobs still show correctly, and a file that was running under the old job-wide lease is
found by the lease scan and runs again. On both engines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings
from stagecoach.store import migrate
from stagecoach.store.db import make_engine
from tests.dbs import REQUIRE_PG, pg_available, pg_url

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    why = pg_available()
    if why is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required: {why}")
        pytest.skip(f"PostgreSQL not reachable: {why}")
    from tests.dbs import PG_ADMIN_URL

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sc_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _ts(engine: sa.Engine, t: datetime) -> datetime:
    # The old schema's UTCDateTime kept naive UTC on SQLite.
    return t.replace(tzinfo=None) if engine.dialect.name == "sqlite" else t


def test_old_jobs_carry_over_and_a_running_file_is_taken_over(empty_url, tmp_path):
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "0003_worker")
    md = sa.MetaData()
    md.reflect(engine)
    users, files, jobs, artifacts = (md.tables[n] for n in ("users", "files", "jobs", "artifacts"))
    uid, done_id, run_id = (str(uuid.uuid4()) for _ in range(3))
    ts = lambda t: _ts(engine, t)  # noqa: E731
    with engine.begin() as conn:
        conn.execute(
            users.insert().values(
                user_id=uid, username="ana", password_hash="x", role="analyst", created_at=ts(T0)
            )
        )
        for fid in ("f1", "f2", "f3"):
            conn.execute(
                files.insert().values(
                    file_id=fid,
                    owner_id=uid,
                    original_name=f"{fid}.pdf",
                    stored_path=None,
                    type="document",
                    mime="application/pdf",
                    size=10,
                    upload_time=ts(T0),
                    status="stored",
                    page_count=2,
                )
            )
        common = dict(
            owner_id=uid,
            pipeline="document",
            claimable=True,
            max_attempts=3,
            stages=["Uploading", "Extracting", "Summarizing"],
            created_at=ts(T0),
            updated_at=ts(T0),
            version=3,
        )
        conn.execute(
            jobs.insert().values(
                job_id=done_id,
                status="completed",
                progress=100.0,
                attempts=1,
                started_at=ts(T0),
                finished_at=ts(T0 + timedelta(seconds=9)),
                **common,
            )
        )
        conn.execute(
            jobs.insert().values(
                job_id=run_id,
                status="processing",
                progress=40.0,
                attempts=1,
                started_at=ts(T0),
                worker_id="old-worker",
                lease_token=4,
                lease_expires_at=ts(T0 + timedelta(seconds=30)),
                last_progress_at=ts(T0 + timedelta(seconds=5)),
                **common,
            )
        )
        for aid, job_id, fid, status, pos in [
            ("a1", done_id, "f1", "completed", 0),
            ("a2", run_id, "f2", "completed", 0),
            ("a3", run_id, "f3", "processing", 1),
        ]:
            conn.execute(
                artifacts.insert().values(
                    artifact_id=aid,
                    job_id=job_id,
                    file_id=fid,
                    position=pos,
                    filename=f"{fid}.pdf",
                    file_type="document",
                    status=status,
                    progress=100.0 if status == "completed" else 30.0,
                    processing_stages={"Extracting": 1.0},
                    stage_units={},
                    started_at=ts(T0),
                    completed_at=ts(T0 + timedelta(seconds=8)) if status == "completed" else None,
                )
            )
    migrate.upgrade(engine)
    engine.dispose()

    now = [T0 + timedelta(seconds=10)]
    settings = Settings(data_dir=tmp_path / "data", database_url=empty_url)
    svc = Services(ServiceContext.from_settings(settings, clock=lambda: now[0]))
    try:
        user = svc.accounts.get_user(uid)
        done = svc.tracking.status(user, done_id)
        assert done["status"] == "completed" and done["outcome"] == "complete"
        assert done["files_done"] == 1 and done["progress"] == 100, done
        running = svc.tracking.status(user, run_id)
        assert running["status"] == "processing" and running["progress"] == 40
        arts = {a["artifact_id"]: a for a in running["artifacts"]}
        assert arts["a3"]["pipeline"] == "document"
        assert arts["a3"]["stages"] == ["Extracting", "Summarizing"]
        assert arts["a3"]["attempts"] == 1
        # the old worker is gone: once its lease runs out the file waits again
        now[0] = T0 + timedelta(seconds=31)
        assert svc.housekeeping.requeue_expired() == ["a3"]
        after = svc.tracking.status(user, run_id)
        assert after["status"] == "processing"  # one file done, one waiting
        assert {a["artifact_id"]: a["status"] for a in after["artifacts"]} == {
            "a2": "completed",
            "a3": "pending",
        }
        claim = svc.queue.claim("new-worker", {"document": ["Extracting", "Summarizing"]})
        assert claim is not None and claim.artifact.artifact_id == "a3"
        assert claim.token == 6  # the old fence, moved by the requeue and by the claim
    finally:
        svc.ctx.db.dispose()
