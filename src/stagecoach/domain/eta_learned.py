"""stagecoach's own estimate of a job's time left: learned stage rates, corrected by this run.

The model, per stage: log(seconds per unit) = learned mean + run factor + stage noise.

- The *run factor* is what is shared by every stage of this run (a slow or busy machine is
  slow for every stage). It is estimated from the stages this run has already done, against
  their history, and shrunk toward zero by how much history says runs differ.
- Inside the running stage, the rate observed so far is blended with the learned one, each
  weighted by the inverse of its variance. The observed rate's variance falls as the stage
  proceeds; when the two disagree far beyond their variances, history is trusted less
  (its variance is widened to the disagreement), so a run unlike its history adjusts fast.
- The range comes from the log variance left over, combined over the remaining stages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stagecoach.domain.progress import (
    JOB_FINISH,
    JOB_START,
    JOB_UNIT,
    ArtifactPlan,
    JobPlan,
    StagePlan,
    expected_stage,
    stage_rate,
)
from stagecoach.domain.rates import MIN_SPU, RateBook, StageRate, lookup

SHARED_FRACTION = 0.5  # of a stage's run-to-run log variance, the share common to all stages
STARTUP_SD = 0.5  # relative spread of a stage's start-up from run to run
# Timings are blurred by about this much: the relay stamps each report as it arrives (to the
# millisecond), but a stage reports in chunks. 1 s, assumed first, made the first seconds of
# a run count for nearly nothing; the real jobs of bench/eta fit best between 0.1 and 0.3 s.
TIMING_JITTER_SECONDS = 0.1
MIN_LEFT = 0.1  # an overdue stage still has at least this share of its expected rest to go


@dataclass(frozen=True)
class Remaining:
    """Time left of a job, before the queue: a median with a log-normal spread."""

    seconds: float
    low: float
    high: float


@dataclass(frozen=True)
class _Evidence:
    residual: float  # observed log spu minus learned mean
    var: float  # how far a residual strays from the run factor by chance
    stage_var: float


@dataclass(frozen=True)
class _Factor:
    """The run factor: its estimate and variance (``var is None``: no evidence yet)."""

    mean: float = 0.0
    var: float | None = None

    def shared_sd(self, rate: StageRate) -> float:
        if self.var is None:
            return math.sqrt(SHARED_FRACTION * rate.predictive_var)
        return math.sqrt(self.var)


@dataclass(frozen=True)
class _Piece:
    fixed: float  # seconds with no spread (start-up still to come)
    variable: float  # seconds proportional to the rate
    own_var: float  # log variance of this piece alone
    shared_sd: float  # log sd it shares with every other piece (the run factor)


def _elapsed(start: datetime | None, at: datetime) -> float:
    return max((at - start).total_seconds(), 0.0) if start is not None else 0.0


def _observed_log_spu(seconds: float, units: float, rate: StageRate) -> float:
    # Take the learned start-up off, but never more than half: a short run is mostly work.
    work = seconds - min(rate.startup_seconds, 0.5 * seconds)
    return math.log(max(work / units, MIN_SPU))


def _observation_var(rate: StageRate, fraction: float) -> float:
    # The share seen so far estimates the run's rate; noise averages out over more units.
    return rate.within_var / min(max(fraction, 1e-6), 1.0)


def _rest_var(rate: StageRate, fraction: float) -> float:
    # Floored at 5 % left: the last units are not infinitely uncertain.
    return rate.within_var / max(1.0 - fraction, 0.05)


def _run_factor(evidence: Iterable[_Evidence]) -> _Factor:
    ev = list(evidence)
    if not ev:
        return _Factor()
    precision = sum(1.0 / e.var for e in ev)
    mean_r = sum(e.residual / e.var for e in ev) / precision
    var_r = 1.0 / precision
    tau2 = SHARED_FRACTION * sum(e.stage_var for e in ev) / len(ev)
    # Disagreement far beyond what history allows: believe the run over the history.
    tau2 = max(tau2, mean_r * mean_r - var_r)
    shrink = tau2 / (tau2 + var_r)
    return _Factor(shrink * mean_r, tau2 * var_r / (tau2 + var_r))


def _finished_evidence(stage: StagePlan, rate: StageRate) -> _Evidence | None:
    if stage.seconds is None or stage.seconds <= 0 or stage.units_total <= 0:
        return None
    x = _observed_log_spu(stage.seconds, stage.units_total, rate)
    own = (1 - SHARED_FRACTION) * rate.predictive_var + (TIMING_JITTER_SECONDS / stage.seconds) ** 2
    return _Evidence(x - rate.mean_log_spu, own, rate.predictive_var)


def _running_observation(stage: StagePlan, rate: StageRate, now: datetime) -> tuple[float, float]:
    """(observed log spu, its variance) so far in a running stage; variance inf if none.

    The learned start-up is taken off the time seen. Its uncertainty, and the blur of the
    timings, matter while the work seen is short: right after a model loads, a few units
    say little.
    """
    seen = _elapsed(stage.started_at, stage.progress_at or now)
    if stage.units_done <= 0 or seen <= 0 or stage.units_total <= 0:
        return 0.0, math.inf
    startup = rate.startup_seconds
    work = max(seen - startup, 0.1 * seen)
    timing_var = ((STARTUP_SD * startup) ** 2 + TIMING_JITTER_SECONDS**2) / work**2
    fraction = stage.units_done / stage.units_total
    x = math.log(max(work / stage.units_done, MIN_SPU))
    return x, _observation_var(rate, fraction) + timing_var


def _blend(mu: float, v: float, x: float, obs_var: float) -> tuple[float, float]:
    """Inverse-variance blend of the learned (mu, v) and observed (x, obs_var) log rates."""
    if math.isinf(obs_var):
        return mu, v
    if obs_var <= 0:
        return x, 0.0
    v = max(v, (x - mu) ** 2 - obs_var)
    w = v / (v + obs_var)
    return mu + w * (x - mu), v * obs_var / (v + obs_var)


def _running_piece(stage: StagePlan, rate: StageRate, factor: _Factor, now: datetime) -> _Piece:
    if factor.var is None:
        mu, v = rate.mean_log_spu, rate.predictive_var
    else:
        mu = rate.mean_log_spu + factor.mean
        v = (1 - SHARED_FRACTION) * rate.predictive_var + factor.var
    x, obs_var = _running_observation(stage, rate, now)
    mean, var = _blend(mu, v, x, obs_var)
    spu = math.exp(mean)
    units_left = max(stage.units_total - stage.units_done, 0.0)
    expected = units_left * spu
    if stage.units_done > 0:
        left = expected - _elapsed(stage.progress_at or now, now)
    else:
        left = rate.startup_seconds + expected - _elapsed(stage.started_at, now)
    rest_var = _rest_var(rate, stage.fraction) if stage.units_total > 0 else 0.0
    return _Piece(0.0, max(left, MIN_LEFT * expected), var + rest_var, 0.0)


def _pending_piece(stage: StagePlan, rate: StageRate, factor: _Factor) -> _Piece:
    spu = math.exp(rate.mean_log_spu + factor.mean)
    return _Piece(
        fixed=rate.startup_seconds,
        variable=max(stage.units_total, 0.0) * spu,
        own_var=(1 - SHARED_FRACTION) * rate.predictive_var,
        shared_sd=factor.shared_sd(rate),
    )


def _overhead_pieces(artifact: ArtifactPlan, rates: RateBook, prior_factor: float) -> list[_Piece]:
    """The job's own start (until a stage begins) and finish, as learned for the pipeline.

    Negligible for a recording; most of the time of a job of a few pages."""
    started = any(s.started_at is not None or s.finished for s in artifact.stages)
    names = (JOB_FINISH,) if started else (JOB_START, JOB_FINISH)
    pieces = []
    for name in names:
        r = lookup(rates, artifact.pipeline, name, artifact.engine, JOB_UNIT, prior_factor)
        pieces.append(_Piece(0.0, r.spu, r.predictive_var, 0.0))
    return pieces


def _artifact_stages(
    job: JobPlan, rates: RateBook, prior_factor: float
) -> list[tuple[int, StagePlan, StageRate]]:
    """(artifact index, stage, its rate) for every stage of the artifacts still going."""
    out = []
    for i, a in enumerate(job.artifacts):
        if a.ended:
            continue
        for s in a.stages:
            rate = stage_rate(a, s, rates, prior_factor)
            out.append((i, expected_stage(a, s, rate), rate))
    return out


def _combine(pieces: list[_Piece], z: float) -> Remaining:
    fixed = sum(p.fixed for p in pieces)
    variable = sum(p.variable for p in pieces)
    if variable <= 0:
        return Remaining(fixed, fixed, fixed)
    weights = [p.variable / variable for p in pieces]
    shared = sum(w * p.shared_sd for w, p in zip(weights, pieces, strict=True))
    own = sum(w * w * p.own_var for w, p in zip(weights, pieces, strict=True))
    spread = z * math.sqrt(shared * shared + own)
    return Remaining(
        fixed + variable, fixed + variable * math.exp(-spread), fixed + variable * math.exp(spread)
    )


def remaining(
    job: JobPlan, rates: RateBook, now: datetime, *, prior_factor: float = 4.0, z: float = 1.2816
) -> Remaining:
    """Seconds left for a job that is running or about to run, ignoring the queue."""
    stages = _artifact_stages(job, rates, prior_factor)
    finished = [_finished_evidence(s, r) for _, s, r in stages if s.finished]
    before_running = _run_factor(e for e in finished if e is not None)
    evidence = [e for e in finished if e is not None]
    for _, s, r in stages:
        if s.running:
            x, obs_var = _running_observation(s, r, now)
            if not math.isinf(obs_var):
                own = (1 - SHARED_FRACTION) * r.predictive_var + obs_var
                evidence.append(_Evidence(x - r.mean_log_spu, own, r.predictive_var))
    after_running = _run_factor(evidence)

    per_artifact: dict[int, list[_Piece]] = {}
    for i, s, r in stages:
        if s.finished:
            continue
        piece = (
            _running_piece(s, r, before_running, now)
            if s.running
            else _pending_piece(s, r, after_running)
        )
        per_artifact.setdefault(i, []).append(piece)

    for i, a in enumerate(job.artifacts):
        if not a.ended and not a.finished:
            per_artifact.setdefault(i, []).extend(_overhead_pieces(a, rates, prior_factor))
    pieces = [p for ps in per_artifact.values() for p in ps]
    total = _combine(pieces, z)
    if job.concurrent_artifacts > 1 and len(per_artifact) > 1:
        # Side by side, the job takes its longest artifact or its share of the total work.
        longest = max(sum(p.fixed + p.variable for p in ps) for ps in per_artifact.values())
        wall = max(longest, total.seconds / job.concurrent_artifacts)
        ratio = wall / total.seconds if total.seconds > 0 else 1.0
        return Remaining(wall, total.low * ratio, total.high * ratio)
    return total
