"""The worker feeds the estimator: stage rates learned from finished runs, and a time
estimate and weighted progress written with each progress report."""

from __future__ import annotations

import sqlalchemy as sa

from stagecoach.domain.progress import JOB_FINISH, JOB_START
from stagecoach.domain.rates import StageRate
from stagecoach.store.tables import stage_rates
from tests.worker.conftest import job_row, wait_for


def ended(services, owner, job_id):
    doc = services.tracking.status(owner, job_id)
    return doc if doc["status"] in ("completed", "failed", "cancelled") else None


def learned(services) -> dict[tuple[str, str], StageRate]:
    with services.ctx.db.read() as conn:
        rows = conn.execute(sa.select(stage_rates)).mappings().all()
    return {(r["pipeline"], r["stage"]): StageRate.from_dict(r["state"]) for r in rows}


def test_finished_stages_are_learned_and_running_jobs_have_an_estimate(
    wservices, owner, make_job, make_file, start_worker, monkeypatch
):
    monkeypatch.setenv("STAGECOACH_TEST_CHUNK_DELAY", "0.01")  # ~1 s of reading per 100 KiB
    first = make_job("slow", [make_file(b"a" * 100_000, "one.bin")])
    start_worker()
    assert wait_for(lambda: ended(wservices, owner, first), timeout=40)["status"] == "completed"
    rates = learned(wservices)
    reading = rates[("slow", "Reading")]
    assert reading.n == 1
    # ~1 s for 100,000 bytes: about 1e-5 s per byte, far from the 50 MB/s prior (2e-8)
    assert 1e-6 < reading.spu < 1e-4
    assert ("slow", "Writing") in rates
    # the job's own start and finish, outside its stages: learned too, and short
    for pseudo in (JOB_START, JOB_FINISH):
        assert rates[("slow", pseudo)].n == 1 and 0 < rates[("slow", pseudo)].spu < 5

    second = make_job("slow", [make_file(b"b" * 100_000, "two.bin")])
    seen = wait_for(
        lambda: (
            (j := job_row(wservices, second)).status == "processing"
            and j.estimated_completion is not None
            and j.progress > 10
            and j
        ),
        timeout=40,
    )
    # With the learned rate the estimate is about the real second or so, not the prior's.
    left = (seen.estimated_completion - seen.updated_at).total_seconds()
    assert 0 < left < 10
    assert seen.eta_low is not None and seen.eta_high is not None
    assert wait_for(lambda: ended(wservices, owner, second), timeout=40)["status"] == "completed"
    assert learned(wservices)[("slow", "Reading")].n == 2
