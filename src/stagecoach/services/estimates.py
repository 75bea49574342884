"""Progress and time estimates for stored jobs: build the plan the pure estimator reads
(domain/eta.py), learn stage rates from finished runs, and keep each job's estimate fresh.

The estimate is written with the job (estimated_completion, eta_low, eta_high), so a poll
reads one row and does no estimating; it is computed from per-process caches of the learned
rates and of the queue, read outside the write lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from stagecoach.domain.eta import QueueState, Shown, estimate
from stagecoach.domain.progress import (
    ArtifactPlan,
    JobPlan,
    StagePlan,
    StageRun,
    artifact_plan,
    artifact_progress,
    finished_stage_runs,
    job_overhead_runs,
    learn_run,
    monotonic,
)
from stagecoach.domain.queue_rules import queue_wait
from stagecoach.domain.rates import RateKey, StageRate, lookup
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus
from stagecoach.pipelines.base import Pipeline
from stagecoach.services.context import ServiceContext
from stagecoach.settings import Settings
from stagecoach.store import queue as queue_store
from stagecoach.store import rates as store


def stage_options(settings: Settings) -> dict[str, Any]:
    """The options stage code gets (ArtifactInput.options); also name the engine of a run."""
    return {
        "engine": settings.transcription_engine,
        "whisper_model_dir": str(settings.whisper_model_dir)
        if settings.whisper_model_dir
        else None,
    }


RATES_TTL_SECONDS = 2.0
"""How long a process trusts its copy of the learned rates before reading them again (what
this process learns itself is in its copy at once)."""
QUEUE_TTL_SECONDS = 1.0
"""How long a process trusts its picture of the queue (files running and waiting) for the
waiting jobs' estimates."""
QUEUE_LOOKAHEAD = 200  # waiting files whose own work is estimated one by one


@dataclass(frozen=True)
class QueuePicture:
    """The queue as a waiting job's estimate sees it: slots, the seconds left of each file
    running, and the files waiting in claim order with their expected seconds."""

    slots: int
    running_left: tuple[float, ...]
    waiting: tuple[tuple[str, datetime | None, float], ...]  # (job_id, queued_at, seconds)


class Estimates:
    """Estimates and learned rates. The rates and the queue are read into per-process
    caches outside any write transaction (``prepare``); estimating is then pure CPU, so a
    write holds the database's lock only for its own rows."""

    def __init__(self, ctx: ServiceContext, pipelines: Mapping[str, Pipeline]) -> None:
        self.ctx = ctx
        self.pipelines = pipelines
        self._lock = threading.Lock()
        self._rates: dict[RateKey, StageRate] = {}
        self._rates_at = -1e9
        self._queue: QueuePicture | None = None
        self._queue_at = -1e9
        self._engines: dict[str, str] = {}

    def engine(self, pipeline: str) -> str:
        """The engine a pipeline's stages run on here (named once per process: the settings
        that choose it do not change while it runs)."""
        found = self._engines.get(pipeline)
        if found is None:
            found = self._engine(pipeline)
            self._engines[pipeline] = found
        return found

    def _engine(self, pipeline: str) -> str:
        p = self.pipelines.get(pipeline)
        if p is None or p.engine is None:
            return ""
        try:
            return p.engine(stage_options(self.ctx.settings))
        except Exception:  # a plugin's engine naming must never break tracking
            return ""

    # --- caches, read outside write transactions ------------------------------------------
    def prepare(self, *, queue: bool = False) -> None:
        """Refresh the caches that are due. Call before opening a write transaction."""
        now = time.monotonic()
        if now - self._rates_at >= RATES_TTL_SECONDS:
            with self.ctx.db.read() as conn:
                rows = store.all_rates(conn)
            fresh = {
                RateKey(r["pipeline"], r["stage"], r["engine"]): StageRate.from_dict(r["state"])
                for r in rows
            }
            with self._lock:
                self._rates, self._rates_at = fresh, now
        if queue and now - self._queue_at >= QUEUE_TTL_SECONDS:
            picture = self._read_queue()
            with self._lock:
                self._queue, self._queue_at = picture, now

    def rates(self) -> dict[RateKey, StageRate]:
        return self._rates

    def _read_queue(self) -> QueuePicture:
        now = self.ctx.clock()
        since = now - timedelta(seconds=self.ctx.settings.lease_seconds * 2)
        with self.ctx.db.read() as conn:
            slots = store.live_slots(conn, since) or self.ctx.settings.worker_concurrency
            running, waiting = queue_store.queue_snapshot(conn, QUEUE_LOOKAHEAD)
        rates = self.rates()
        return QueuePicture(
            slots=slots,
            running_left=tuple(self._seconds_left([a], now, rates) for a in running),
            waiting=tuple(
                (a.job_id, a.queued_at, self._seconds_left([a], now, rates)) for a in waiting
            ),
        )

    def _seconds_left(
        self, artifacts: list[Artifact], now: datetime, rates: dict[RateKey, StageRate]
    ) -> float:
        plan = JobPlan(tuple(p for a in artifacts if (p := self.artifact_plan(a)) is not None))
        if not plan.artifacts:
            return 0.0
        est = estimate(
            plan,
            now=now,
            rates=rates,
            estimator="learned",
            prior_factor=self.ctx.settings.transcription_prior_factor,
        )
        return est.eta_seconds or 0.0

    # --- learning (inside the writer's transaction: one row each) -------------------------
    def learn_finished_stages(self, conn: Connection, old: Artifact, new: Artifact) -> None:
        """Learn from every stage of ``new`` that finished since ``old`` was stored."""
        if new.pipeline not in self.pipelines:
            return
        engine = self.engine(new.pipeline or "")
        for run in finished_stage_runs(new.stage_units, new.processing_stages, old.stage_units):
            self.learn(conn, new.pipeline or "", engine, run)

    def learn_overheads(self, conn: Connection, artifact: Artifact, finished_at: datetime) -> None:
        """Learn the time a completed file spent outside its stages: from its claim to its
        first stage, and after its last (results, the final write)."""
        if artifact.pipeline not in self.pipelines:
            return
        engine = self.engine(artifact.pipeline or "")
        for run in job_overhead_runs(
            artifact.started_at, finished_at, artifact.stage_units, artifact.processing_stages
        ):
            self.learn(conn, artifact.pipeline or "", engine, run)

    def learn(self, conn: Connection, pipeline: str, engine: str, run: StageRun) -> StageRate:
        """Fold one finished stage run into its learned rate (in the caller's transaction)."""
        prior_factor = self.ctx.settings.transcription_prior_factor
        row = store.get_rate(conn, pipeline, run.stage, engine, for_update=True)
        rate = (
            StageRate.from_dict(row)
            if row
            else lookup({}, pipeline, run.stage, engine, run.unit, prior_factor)
        )
        new = learn_run(rate, run)
        self.put_rate(conn, RateKey(pipeline, run.stage, engine), new)
        return new

    def put_rate(self, conn: Connection, key: RateKey, rate: StageRate) -> None:
        """Store a rate (in the caller's transaction) and keep it in this process's copy."""
        store.put_rate(conn, key.pipeline, key.stage, key.engine, rate.to_dict(), self.ctx.clock())
        with self._lock:
            # Copy on write: readers hold the old dict without a lock.
            self._rates = {**self._rates, key: rate}

    # --- plans ---------------------------------------------------------------------------
    def artifact_plan(self, a: Artifact) -> ArtifactPlan | None:
        pipeline = self.pipelines.get(a.pipeline or "")
        if pipeline is None:
            return None
        return artifact_plan(
            pipeline.name,
            [(st.name, st.unit) for st in pipeline.stages],
            a.stage_units,
            a.processing_stages,
            a.media,
            engine=self.engine(pipeline.name),
            completed=a.status is JobStatus.COMPLETED,
            ended=a.status in (JobStatus.FAILED, JobStatus.CANCELLED),
        )

    def plan(self, job: Job, artifacts: list[Artifact]) -> JobPlan:
        plans = tuple(p for a in artifacts if (p := self.artifact_plan(a)) is not None)
        if not job.claimable or not plans:
            return JobPlan((self._outside_plan(job),))
        slots = self._queue.slots if self._queue else self.ctx.settings.worker_concurrency
        return JobPlan(plans, concurrent_artifacts=max(1, min(len(plans), slots)))

    def artifact_progress(self, artifact: Artifact) -> float:
        """An artifact's progress, its stages weighted by what they are expected to cost."""
        plan = self.artifact_plan(artifact)
        if plan is None:
            return artifact.progress
        return artifact_progress(plan, self.rates(), self.ctx.settings.transcription_prior_factor)

    def _outside_plan(self, job: Job) -> ArtifactPlan:
        """A job reported on from outside: one stage in its own unit, or in percent."""
        if job.duration_total:
            total, unit = job.duration_total, job.unit or "audio_seconds"
            done = job.duration_processed or job.duration_total * job.progress / 100
        else:
            total, unit, done = 100.0, "percent", job.progress
        started = job.started_at if job.status is not JobStatus.PENDING else None
        return ArtifactPlan(
            pipeline=job.pipeline or "outside",
            stages=(
                StagePlan(
                    name=job.current_stage or "Processing",
                    unit=unit,
                    units_total=total,
                    units_done=done,
                    finished=job.status is JobStatus.COMPLETED,
                    started_at=started,
                    progress_at=job.last_progress_at,
                ),
            ),
        )

    # --- estimates -----------------------------------------------------------------------
    def refresh(
        self,
        job: Job,
        artifacts: list[Artifact],
        *,
        new_attempt: bool = False,
        shown_at: datetime | None = None,
    ) -> Job:
        """The job with a fresh estimate and weighted progress (not yet saved). Pure CPU over
        the caches ``prepare`` filled.

        ``shown_at``: when the stored estimate was computed (the job's previous write), from
        which smoothing measures how far the shown finish may move."""
        if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
            return job.evolve(estimated_completion=None, eta_low=None, eta_high=None)
        now = self.ctx.clock()
        plan = self.plan(job, artifacts)
        rates = self.rates()
        queue = self._queue_state(job, artifacts) if job.status is JobStatus.PENDING else None
        previous = None
        if job.estimated_completion is not None and not new_attempt:
            previous = Shown(
                job.estimated_completion, shown_at or job.updated_at, job.eta_low, job.eta_high
            )
        est = estimate(
            plan,
            now=now,
            rates=rates,
            estimator=self.ctx.settings.eta_estimator,
            prior_factor=self.ctx.settings.transcription_prior_factor,
            queue=queue,
            previous=previous,
        )
        changes: dict[str, Any] = {
            "estimated_completion": est.estimated_completion,
            "eta_low": now + timedelta(seconds=est.eta_low) if est.eta_low is not None else None,
            "eta_high": now + timedelta(seconds=est.eta_high) if est.eta_high is not None else None,
        }
        if job.status is JobStatus.PROCESSING and job.claimable:
            # Weighted progress for jobs we process; outside reporters state their own.
            changes["progress"] = monotonic(None if new_attempt else job.progress, est.progress)
        return job.evolve(**changes)

    def _queue_state(self, job: Job, artifacts: list[Artifact]) -> QueueState | None:
        """A waiting job's place: the free slots and the work really ahead of its files."""
        picture = self._queue
        if not job.claimable or picture is None:
            return None
        mine = [a.queued_at for a in artifacts if a.status is JobStatus.PENDING and a.queued_at]
        first = min(mine) if mine else None
        ahead = [
            (job_id, seconds)
            for job_id, queued_at, seconds in picture.waiting
            if job_id != job.job_id and (first is None or (queued_at and queued_at < first))
        ]
        wait = queue_wait(picture.running_left, [s for _, s in ahead], picture.slots)
        jobs_ahead = len({j for j, _ in ahead})
        return QueueState(position=jobs_ahead + 1, work_ahead_seconds=wait, slots=1)
