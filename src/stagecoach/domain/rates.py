"""What a stage costs per unit of input, learned from finished stage runs.

A stage run takes about ``startup + units x seconds-per-unit`` (spu). stagecoach keeps, per
(pipeline, stage, engine), the exponentially weighted mean and variance of ``log(spu)``:
the log because speeds are multiplicative (a machine is 2x slower, not 3 s slower) and a
log mean is not dragged around by one slow run. Until a stage has history, a prior from
settings stands in, with a wide variance so the range says how little we know.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

_T = TypeVar("_T")

ALPHA = 0.3  # weight of the newest run once there is some history (~ the last 5-6 runs count)
WARMUP_RUNS = 3  # below this many runs the plain mean is used (1/n beats ALPHA)
FIRST_RUN_VAR = 0.09  # log-variance after one run (sd 0.3): one run says little about spread
MIN_VAR = 0.0025  # floor (sd 0.05): no stage is ever perfectly predictable
CLIP_SD = 3.0  # runs further than this from the mean are pulled in (robust to outliers)
# The typical rate is the trimmed mean of the last runs (the fastest and slowest left out):
# one run far off -- the first after a worker started cold, one behind a stuck disk -- does
# not move it, where an exponentially weighted mean would carry it for many runs.
RECENT_RUNS = 7
MIN_SPU = 1e-12
# Inside a stage the rate wanders (speech vs silence, dense vs sparse pages). A share f of a
# run estimates the run's rate with log variance within_var / f; the rest strays from it by
# within_var / (1 - f). Learned per stage from the halves of each run; this is the default.
WITHIN_RUN_VAR = 0.002
MIN_WITHIN_VAR = 1e-4
MAX_WITHIN_VAR = 0.5


@dataclass(frozen=True)
class RateKey:
    """Where a learned rate belongs; the store keeps one row per key."""

    pipeline: str
    stage: str
    engine: str = ""


@dataclass(frozen=True)
class StageRate:
    """Learned cost of a stage: log seconds-per-unit (mean, variance) and a fixed start-up.

    ``n`` counts finished runs learned from; ``n == 0`` is a prior from settings.
    ``within_var``: how unevenly the stage runs inside one run (see ``WITHIN_RUN_VAR``).
    """

    n: int
    mean_log_spu: float
    var_log_spu: float
    startup_seconds: float = 0.0
    within_var: float = WITHIN_RUN_VAR
    recent: tuple[float, ...] = ()  # the last runs' log spu, newest last (RECENT_RUNS)
    recent_startups: tuple[float, ...] = ()
    # The last runs' units, with the units of their artifact's first stage: what to expect
    # of a stage whose total no media fact gives (``typical_units``).
    recent_runs: tuple[tuple[float, float | None], ...] = ()
    # Set when the rate was measured by calibration on a built-in sample (``calibrated``):
    # what it was measured with (engine, model), so a change of either measures again.
    calibration: str | None = None

    @property
    def spu(self) -> float:
        """Typical (median) seconds per unit."""
        return math.exp(self.mean_log_spu)

    @property
    def sd_log_spu(self) -> float:
        return math.sqrt(max(self.var_log_spu, MIN_VAR))

    @property
    def predictive_var(self) -> float:
        """Log variance to expect for the next run, widened while history is short.

        A spread estimated from a handful of runs is itself uncertain, so a range built on it
        holds the truth less often than promised; widening it as Student's t would (with the
        runs the weighted mean effectively remembers) keeps the promise.
        """
        var = max(self.var_log_spu, MIN_VAR)
        if self.n == 0:
            return var  # a prior: its width is already a statement of ignorance
        effective = min(float(self.n), 2.0 / ALPHA - 1.0)
        return var * _t_widening(max(effective - 1.0, 1.0))

    def typical_units(self, reference: float | None) -> float | None:
        """Units a run of this stage has had: a fixed number (4 charts) or a share of the
        artifact's size (7 sentences a page), whichever the recent runs kept steadier."""
        if not self.recent_runs:
            return None
        absolute = [math.log(u) for u, _ in self.recent_runs]
        relative = [math.log(u / ref) for u, ref in self.recent_runs if ref]
        if (
            reference
            and reference > 0
            and len(relative) == len(absolute) >= 2
            and _variance(relative) < _variance(absolute)
        ):
            return reference * math.exp(_typical(tuple(relative), _mean(relative)))
        return math.exp(_typical(tuple(absolute), _mean(absolute)))

    def expected_seconds(self, units: float) -> float:
        return self.startup_seconds + max(units, 0.0) * self.spu

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StageRate:
        return cls(
            n=int(d["n"]),
            mean_log_spu=float(d["mean_log_spu"]),
            var_log_spu=float(d["var_log_spu"]),
            startup_seconds=float(d.get("startup_seconds") or 0.0),
            within_var=float(d.get("within_var") or WITHIN_RUN_VAR),
            recent=tuple(float(x) for x in d.get("recent") or ()),
            recent_startups=tuple(float(x) for x in d.get("recent_startups") or ()),
            recent_runs=tuple(
                (float(u), None if ref is None else float(ref))
                for u, ref in d.get("recent_runs") or ()
            ),
            calibration=d.get("calibration"),
        )


# Student's t 90th percentile over the normal one (1.2816), squared, by degrees of freedom.
_T90 = {1: 3.078, 2: 1.886, 3: 1.638, 4: 1.533, 5: 1.476, 6: 1.440, 8: 1.397, 12: 1.356}


def _t_widening(df: float) -> float:
    keys = sorted(_T90)
    if df >= keys[-1]:
        return (_T90[keys[-1]] / 1.2816) ** 2
    lo = max(k for k in keys if k <= df)
    hi = min(k for k in keys if k >= df)
    t = _T90[lo] if hi == lo else _T90[lo] + (_T90[hi] - _T90[lo]) * (df - lo) / (hi - lo)
    return (t / 1.2816) ** 2


def update(
    rate: StageRate,
    units: float,
    seconds: float,
    startup_seconds: float | None = None,
    half_seconds: float | None = None,
    reference_units: float | None = None,
) -> StageRate:
    """Learn from one finished stage run of ``units`` that took ``seconds`` in all.

    ``startup_seconds``, when the worker measured it (time to the first progress report),
    refines the fixed start-up cost; otherwise the current one is taken off ``seconds``.
    ``half_seconds``, when measured (time until half the units were reported done), teaches
    how evenly the stage runs inside one run. ``reference_units``: the total of the
    artifact's first stage, which ``typical_units`` scales by. Runs with no units only
    teach the start-up.
    """
    alpha = max(1.0 / (rate.n + 1), ALPHA)
    startup, startups = rate.startup_seconds, rate.recent_startups
    if startup_seconds is not None and startup_seconds >= 0:
        observed = min(startup_seconds, max(seconds, 0.0))
        startups = _push(startups if rate.n else (), observed)
        startup = _typical(
            startups, observed if rate.n == 0 else startup + alpha * (observed - startup)
        )
    within = _learn_within(rate, seconds, startup, half_seconds)
    if units <= 0 or seconds <= 0:
        return replace(rate, startup_seconds=startup, within_var=within, recent_startups=startups)

    x = math.log(max((seconds - min(startup, seconds * 0.5)) / units, MIN_SPU))
    reference = reference_units if reference_units and reference_units > 0 else None
    runs = _push(rate.recent_runs if rate.n else (), (units, reference))
    if rate.n == 0:
        # The first real run replaces the prior: it was measured here, the prior was guessed.
        return StageRate(
            1, x, min(rate.var_log_spu, FIRST_RUN_VAR), startup, within, (x,), startups, runs
        )

    sd = rate.sd_log_spu
    d = x - rate.mean_log_spu
    if rate.n >= WARMUP_RUNS:
        d = max(-CLIP_SD * sd, min(CLIP_SD * sd, d))
    recent = _push(rate.recent, x)
    mean = _typical(recent, rate.mean_log_spu + alpha * d)
    # Variance of the *prediction* error (d against the old mean), which is what a range needs.
    var = (1 - alpha) * rate.var_log_spu + alpha * d * d
    return StageRate(rate.n + 1, mean, max(var, MIN_VAR), startup, within, recent, startups, runs)


# A pace measured here on a built-in sample: far better than a guess, but a sample is not
# the user's file (a recording's speech, a document's density), so its spread stays wide:
# sd 0.5 is a factor 1.65 either way, a range of about 3.6x (between "estimating" and good).
CALIBRATION_SD = 0.5


def calibrated(
    base: StageRate,
    units: float,
    seconds: float,
    *,
    fingerprint: str,
    startup_seconds: float | None = None,
    half_seconds: float | None = None,
    reference_units: float | None = None,
) -> StageRate:
    """A rate seeded from one calibration run on a built-in sample.

    It is still a prior (``n == 0``): the first real run replaces it, as it replaces a
    guessed prior, since a user's file says more than a sample. What it keeps from the
    sample is the pace (``mean_log_spu``), the start-up, the units it had (for stages whose
    total no media fact gives), and a spread of ``CALIBRATION_SD``.
    """
    measured = update(
        replace(base, n=0),
        units,
        seconds,
        startup_seconds=startup_seconds,
        half_seconds=half_seconds,
        reference_units=reference_units,
    )
    if measured.n == 0:  # no units: only the start-up was learned
        return replace(measured, calibration=fingerprint)
    return replace(
        measured,
        n=0,
        var_log_spu=CALIBRATION_SD**2,
        within_var=base.within_var,
        recent=(),
        calibration=fingerprint,
    )


def _median(v: list[float]) -> float:
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def _push(recent: tuple[_T, ...], x: _T) -> tuple[_T, ...]:
    return (*recent, x)[-RECENT_RUNS:]


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _variance(v: list[float]) -> float:
    m = _mean(v)
    return sum((x - m) ** 2 for x in v) / len(v)


def _typical(recent: tuple[float, ...], running_mean: float) -> float:
    """Trimmed mean of the recent runs (the median of three or four); with fewer, or with
    a state stored before runs were kept, the running mean."""
    if len(recent) < 3:
        return running_mean
    v = sorted(recent)
    if len(v) < 5:
        return _median(v)
    return sum(v[1:-1]) / (len(v) - 2)


def _learn_within(
    rate: StageRate, seconds: float, startup: float, half_seconds: float | None
) -> float:
    """Within-run variance from how the two halves of a run compared.

    Each half estimates the rate with variance ``within_var / 0.5``, so the log ratio of the
    halves has variance ``4 x within_var``. The default counts as one earlier run.
    """
    if half_seconds is None or not 0 < half_seconds < seconds:
        return rate.within_var
    first = half_seconds - min(startup, 0.5 * half_seconds)
    ratio = math.log((seconds - half_seconds) / first)
    sample = min(ratio * ratio / 4.0, MAX_WITHIN_VAR)
    alpha = max(1.0 / (rate.n + 2), ALPHA)
    return max(rate.within_var + alpha * (sample - rate.within_var), MIN_WITHIN_VAR)


# --- priors ----------------------------------------------------------------------------

# Seconds per unit before any history, and the log-sd around it. Guesses for a small machine;
# wide on purpose (sd 1.5 is a factor 4.5 either way at one sd).
PRIOR_SD = 1.5
_PRIOR_SPU: dict[str, float] = {
    "audio_seconds": 0.05,  # decoding / resampling; transcription uses the settings factor
    "pages": 0.2,  # text extraction from a PDF page
    "rows": 2e-5,  # reading and summarising a row (50k rows/s)
    "bytes": 2e-8,  # hashing or copying (50 MB/s)
    "job": 0.05,  # a job's own start and finish around its stages (progress.JOB_START)
}
_UNKNOWN_SPU = 1.0
_UNKNOWN_SD = 2.0
_TRANSCRIPTION_WORDS = ("transcri", "recogni", "speech")
TRANSCRIPTION_STARTUP = 2.0  # loading a speech model


def is_transcription(stage: str, unit: str) -> bool:
    name = stage.lower()
    return unit == "audio_seconds" and any(w in name for w in _TRANSCRIPTION_WORDS)


@functools.lru_cache(maxsize=4096)
def prior(pipeline: str, stage: str, unit: str, prior_factor: float = 4.0) -> StageRate:
    """The rate to use before a (pipeline, stage) has any history.

    Transcription takes ``prior_factor`` seconds per audio second (settings:
    ``transcription_prior_factor``, the seeds' 4x real time). ``pipeline`` is accepted so a
    per-pipeline table can be added without changing callers.
    """
    del pipeline
    if is_transcription(stage, unit):
        return StageRate(0, math.log(prior_factor), PRIOR_SD**2, TRANSCRIPTION_STARTUP)
    if unit in _PRIOR_SPU:
        return StageRate(0, math.log(_PRIOR_SPU[unit]), PRIOR_SD**2, 0.0)
    return StageRate(0, math.log(_UNKNOWN_SPU), _UNKNOWN_SD**2, 0.0)


RateBook = Mapping[RateKey, StageRate]


def lookup(
    rates: RateBook,
    pipeline: str,
    stage: str,
    engine: str,
    unit: str,
    prior_factor: float = 4.0,
) -> StageRate:
    """The learned rate for this engine, else any engine's for the stage, else the prior."""
    found = rates.get(RateKey(pipeline, stage, engine))
    if found is not None:
        return found
    if engine:
        found = rates.get(RateKey(pipeline, stage, ""))
        if found is not None:
            return found
    return prior(pipeline, stage, unit, prior_factor)
