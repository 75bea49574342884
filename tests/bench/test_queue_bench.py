"""The queue bench's own arithmetic: percentiles, jobs/s, claim latency, the ratio, sizes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from bench.common import pct
from bench.queue_bench import SYSTEMS, Sizes
from bench.queue_figures import Timing, jobs_per_second, latencies_ms, ratio

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_pct_is_the_nearest_rank_of_the_sorted_values():
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert pct(values, 50) == 51.0  # rank round(0.5 * 99) = 50 (0-based) of 1..100
    assert pct(values, 99) == 99.0
    assert pct(values, 0) == 1.0
    assert pct(values, 100) == 100.0
    assert pct([7.0], 99) == 7.0
    assert math.isnan(pct([], 50))


def test_jobs_per_second_runs_from_the_first_start_to_the_last_end():
    timings = [
        Timing(at(1.0), at(2.0)),
        Timing(at(1.5), at(3.0)),
        Timing(at(2.0), at(5.0)),
        Timing(at(2.5), at(9.0), ok=False),  # failed: neither counted nor stretching the span
        Timing(at(3.0), None),  # never ended
        Timing(None, None),  # never started
    ]
    rate, span = jobs_per_second(timings)
    assert span == 4.0
    assert rate == 3 / 4.0


def test_jobs_per_second_without_ended_jobs_is_nan():
    assert all(math.isnan(v) for v in jobs_per_second([Timing(at(1), None)]))
    assert all(math.isnan(v) for v in jobs_per_second([]))
    rate, span = jobs_per_second([Timing(at(1), at(1))])  # no time passed: no rate to give
    assert math.isnan(rate) and span == 0.0


def test_latencies_run_from_each_enqueue_to_its_own_start():
    enqueued = {"a": at(0.0), "b": at(1.0), "c": at(2.0), "d": at(3.0)}
    timings = {
        "a": Timing(at(0.010), at(0.5)),
        "b": Timing(at(1.250), at(1.5)),
        "c": Timing(None, None),  # never started: left out
        "x": Timing(at(0.0), at(0.1)),  # not one of the enqueued
    }
    got = latencies_ms(enqueued, timings)
    assert got == pytest.approx([10.0, 250.0])


def test_ratio():
    assert ratio(50.0, 200.0) == 0.25
    assert math.isnan(ratio(50.0, 0.0))
    assert math.isnan(ratio(math.nan, 200.0))
    assert math.isnan(ratio(50.0, math.nan))


def test_sizes_default_smoke_and_overrides():
    assert Sizes.from_env({}) == Sizes()
    assert Sizes().workers == (1, 2, 4) and Sizes().systems == SYSTEMS
    smoke = Sizes.from_env({"BENCH_QUEUE_SMOKE": "1"})
    assert smoke == Sizes.smoke() and smoke.jobs < Sizes().jobs
    got = Sizes.from_env(
        {
            "BENCH_QUEUE_SMOKE": "1",
            "BENCH_QUEUE_JOBS": "7",
            "BENCH_QUEUE_WORKERS": "1, 8",
            "BENCH_QUEUE_LATENCY_GAP": "0.5",
            "BENCH_QUEUE_SYSTEMS": "postgres,procrastinate",
        }
    )
    assert (got.jobs, got.workers, got.latency_gap) == (7, (1, 8), 0.5)
    assert got.systems == ("postgres", "procrastinate")
    assert got.writers == smoke.writers  # the rest stays smoke-sized
    assert Sizes.from_env({"BENCH_QUEUE_LATENCY_JOBS": "0"}).latency_jobs == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BENCH_QUEUE_JOBS", "many"),
        ("BENCH_QUEUE_WORKERS", "1,two"),
        ("BENCH_QUEUE_SYSTEMS", "redis"),
        ("BENCH_QUEUE_JOBS", "0"),
        ("BENCH_QUEUE_LATENCY_GAP", "-1"),
        ("BENCH_QUEUE_JOBS", "1,2"),
    ],
)
def test_sizes_refuse_a_bad_value_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        Sizes.from_env({name: value})
