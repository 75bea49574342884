"""Numbers for /metrics, read from the database so every API process tells the same story."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from stagecoach.services.context import ServiceContext
from stagecoach.store import metrics as store
from stagecoach.store import queue as queue_store

STAGE_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


@dataclass
class Histogram:
    buckets: list[int]  # cumulative counts per STAGE_BUCKETS bound
    count: int = 0
    total: float = 0.0


@dataclass
class MetricsSnapshot:
    jobs: dict[str, int]
    queue: dict[str, int]
    counters: dict[str, int]
    workers: int
    stages: dict[tuple[str, str], Histogram]


class Metrics:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def snapshot(self) -> MetricsSnapshot:
        now = self.ctx.clock()
        since = now - timedelta(seconds=2 * self.ctx.settings.lease_seconds)
        with self.ctx.db.read() as conn:
            jobs = store.jobs_by_status(conn)
            queue = store.queue_depth(conn, now)
            counters = queue_store.counters(conn)
            workers = store.live_worker_count(conn, since)
            timings = store.recent_stage_timings(conn)
        stages: dict[tuple[str, str], Histogram] = {}
        for row in timings:
            for stage, seconds in row["stages"].items():
                h = stages.setdefault(
                    (row["pipeline"] or "", stage), Histogram([0] * len(STAGE_BUCKETS))
                )
                h.count += 1
                h.total += float(seconds)
                for i, bound in enumerate(STAGE_BUCKETS):
                    if seconds <= bound:
                        h.buckets[i] += 1
        return MetricsSnapshot(jobs, queue, counters, workers, stages)
