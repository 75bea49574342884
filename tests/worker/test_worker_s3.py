"""The worker over S3 storage: inputs fetched into <data_dir>/cache/ and removed when each
file is done; results written to the bucket."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings
from stagecoach.store.tables import files, results
from tests.worker.conftest import FAST, status_of, wait_for


@pytest.fixture
def wsettings(make_settings: Callable[..., Settings], s3_url: str) -> Settings:
    return make_settings(storage_url=s3_url, **FAST)


def _cached_files(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.cache_dir).rglob("*") if p.is_file()]


def test_inputs_come_from_the_bucket_and_their_copies_go(
    wsettings, wservices, owner, make_job, make_file, start_worker
):
    files = [make_file(b"a" * 40_000, "one.wav"), make_file(b"b" * 30_000, "two.wav")]
    job_id = make_job("slow", files)
    shutil.rmtree(wsettings.cache_dir)  # as on a worker host that never saw the upload
    seen: list[int] = []
    start_worker()
    doc = wait_for(
        lambda: (
            seen.append(len(_cached_files(wsettings)))
            or ((d := status_of(wservices, owner, job_id))["status"] == "completed" and d)
        )
    )
    assert doc["attempts"] == 1
    assert max(seen) >= 1  # a copy existed while a file was processed
    assert _cached_files(wsettings) == []  # and none is left
    with wservices.ctx.db.read() as conn:
        keys = conn.execute(sa.select(results.c.stored_path).where(results.c.job_id == job_id))
        keys = [k for (k,) in keys]
    assert len(keys) == 2
    for key in keys:
        assert b"".join(wservices.storage.read(key)).strip()  # the digest, in the bucket
    assert not Path(wsettings.files_dir).exists()


def test_retention_deletes_uploads_and_results_from_the_bucket(
    wsettings, wservices, owner, make_job, make_file, start_worker
):
    job_id = make_job("slow", [make_file(b"c" * 2000, "old.wav")])
    start_worker()
    wait_for(lambda: status_of(wservices, owner, job_id)["status"] == "completed")
    with wservices.ctx.db.read() as conn:
        keys = [k for (k,) in conn.execute(sa.select(results.c.stored_path))]
        keys += [k for (k,) in conn.execute(sa.select(files.c.stored_path))]
    assert len(keys) == 2 and all(wservices.storage.exists(k) for k in keys)
    later = Services(
        ServiceContext.from_settings(wsettings.model_copy(update={"retention_days": -1}))
    )
    try:
        report = later.housekeeping.cleanup()
    finally:
        later.ctx.db.dispose()
    assert report.jobs == [job_id]
    assert [k for k in keys if wservices.storage.exists(k)] == []
