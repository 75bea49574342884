"""Progress and time estimates for stored jobs: build the plan the pure estimator reads
(domain/eta.py), learn stage rates from finished runs, and keep each job's estimate fresh.

The estimate is written with the job (estimated_completion, eta_low, eta_high), so a poll
reads one row and does no estimating.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from stagecoach.domain.rates import RateKey, StageRate, lookup
from stagecoach.domain.records import Artifact, Job
from stagecoach.domain.status import JobStatus
from stagecoach.pipelines.base import Pipeline
from stagecoach.services.context import ServiceContext
from stagecoach.settings import Settings
from stagecoach.store import files as files_store
from stagecoach.store import jobs as jobs_store
from stagecoach.store import rates as store

QUEUE_LOOKAHEAD = 20  # queued jobs whose own work is estimated one by one


def stage_options(settings: Settings) -> dict[str, Any]:
    """The options stage code gets (ArtifactInput.options); also name the engine of a run."""
    return {
        "engine": settings.transcription_engine,
        "whisper_model_dir": str(settings.whisper_model_dir)
        if settings.whisper_model_dir
        else None,
    }


class Estimates:
    def __init__(self, ctx: ServiceContext, pipelines: Mapping[str, Pipeline]) -> None:
        self.ctx = ctx
        self.pipelines = pipelines

    def engine(self, pipeline: str) -> str:
        p = self.pipelines.get(pipeline)
        if p is None or p.engine is None:
            return ""
        try:
            return p.engine(stage_options(self.ctx.settings))
        except Exception:  # a plugin's engine naming must never break tracking
            return ""

    def learn_finished_stages(
        self, conn: Connection, job: Job, old: Artifact, new: Artifact
    ) -> None:
        """Learn from every stage of ``new`` that finished since ``old`` was stored."""
        if job.pipeline not in self.pipelines:
            return
        engine = self.engine(job.pipeline or "")
        for run in finished_stage_runs(new.stage_units, new.processing_stages, old.stage_units):
            self.learn(conn, job.pipeline or "", engine, run)

    def learn_overheads(
        self, conn: Connection, job: Job, artifacts: list[Artifact], finished_at: datetime
    ) -> None:
        """Learn the time a completed job spent outside its stages (one-file jobs only: with
        several files side by side, the gaps are not the job's own)."""
        if job.pipeline not in self.pipelines or len(artifacts) != 1:
            return
        a = artifacts[0]
        engine = self.engine(job.pipeline or "")
        for run in job_overhead_runs(
            job.started_at, finished_at, a.stage_units, a.processing_stages
        ):
            self.learn(conn, job.pipeline or "", engine, run)

    def artifact_progress(self, conn: Connection, job: Job, artifact: Artifact) -> float:
        """An artifact's progress, its stages weighted by what they are expected to cost."""
        plan = self.plan(conn, job, [artifact])
        if not plan.artifacts or job.pipeline not in self.pipelines:
            return artifact.progress
        return artifact_progress(
            plan.artifacts[0], self.rates(conn), self.ctx.settings.transcription_prior_factor
        )

    # --- learning ------------------------------------------------------------------------
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
        store.put_rate(conn, pipeline, run.stage, engine, new.to_dict(), self.ctx.clock())
        return new

    def rates(self, conn: Connection) -> dict[RateKey, StageRate]:
        return {
            RateKey(r["pipeline"], r["stage"], r["engine"]): StageRate.from_dict(r["state"])
            for r in store.all_rates(conn)
        }

    # --- plans ---------------------------------------------------------------------------
    def plan(self, conn: Connection, job: Job, artifacts: list[Artifact]) -> JobPlan:
        pipeline = self.pipelines.get(job.pipeline or "")
        if pipeline is None or not artifacts:
            return JobPlan((self._outside_plan(job),))
        stages = [(st.name, st.unit) for st in pipeline.stages]
        engine = self.engine(pipeline.name)
        plans = [
            artifact_plan(
                pipeline.name,
                stages,
                a.stage_units,
                a.processing_stages,
                self._facts(conn, a),
                engine=engine,
                completed=a.status is JobStatus.COMPLETED,
                ended=a.status in (JobStatus.FAILED, JobStatus.CANCELLED),
            )
            for a in artifacts
        ]
        return JobPlan(tuple(plans))

    def _facts(self, conn: Connection, a: Artifact) -> Mapping[Any, Any]:
        if a.file_id is None:
            return {}
        return files_store.get_file(conn, a.file_id) or {}

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
        conn: Connection,
        job: Job,
        artifacts: list[Artifact] | None = None,
        *,
        new_attempt: bool = False,
        shown_at: datetime | None = None,
    ) -> Job:
        """The job with a fresh estimate and weighted progress (not yet saved).

        ``shown_at``: when the stored estimate was computed (the job's previous write), from
        which smoothing measures how far the shown finish may move."""
        if job.status not in (JobStatus.PENDING, JobStatus.PROCESSING):
            return job.evolve(estimated_completion=None, eta_low=None, eta_high=None)
        now = self.ctx.clock()
        if artifacts is None:
            artifacts = jobs_store.job_artifacts(conn, job.job_id)
        plan = self.plan(conn, job, artifacts)
        rates = self.rates(conn)  # read once: the queue's estimates use the same book
        queue = self._queue(conn, job, now, rates) if job.status is JobStatus.PENDING else None
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
        if job.status is JobStatus.PROCESSING and self.pipelines.get(job.pipeline or ""):
            # Weighted progress for jobs we process; outside reporters state their own.
            changes["progress"] = monotonic(None if new_attempt else job.progress, est.progress)
        return job.evolve(**changes)

    def _queue(
        self, conn: Connection, job: Job, now: datetime, rates: dict[RateKey, StageRate]
    ) -> QueueState | None:
        if not job.claimable:
            return None
        position = jobs_store.queue_position(conn, job) or 1
        since = now - timedelta(seconds=self.ctx.settings.lease_seconds * 2)
        slots = store.live_slots(conn, since) or self.ctx.settings.worker_concurrency
        running = jobs_store.running_jobs(conn)
        work = sum(
            max(0.0, (j.estimated_completion - now).total_seconds())
            for j in running
            if j.estimated_completion is not None
        )
        ahead = jobs_store.pending_ahead(conn, job, limit=QUEUE_LOOKAHEAD)
        own = [self._own_seconds(conn, j, now, rates) for j in ahead]
        if own and position - 1 > len(own):
            # Far down the queue: the jobs not looked at cost what the looked-at ones did.
            own.append(sum(own) / len(own) * (position - 1 - len(own)))
        return QueueState(
            position=position,
            work_ahead_seconds=work + sum(own),
            slots=slots,
            jobs_ahead=position - 1 + len(running),
        )

    def _own_seconds(
        self, conn: Connection, job: Job, now: datetime, rates: dict[RateKey, StageRate]
    ) -> float:
        """Expected seconds of a queued job's own work, not counting its wait."""
        plan = self.plan(conn, job, jobs_store.job_artifacts(conn, job.job_id))
        est = estimate(
            plan,
            now=now,
            rates=rates,
            estimator="learned",
            prior_factor=self.ctx.settings.transcription_prior_factor,
        )
        return est.eta_seconds or 0.0
