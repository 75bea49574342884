"""procrastinate, the yardstick of the queue bench: a no-op task through real procrastinate
workers (`python -m bench.queue_procrastinate CONNINFO CONCURRENCY`, one process each) on a
database of its own on the same PostgreSQL server as stagecoach's.

Its timestamps come from its own table, ``procrastinate_events`` (written by its triggers
with the server's ``now()``): ``started`` when a worker fetched the job, ``succeeded`` when
it ended.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import worker_processes
from bench.queue_figures import Timing
from stagecoach.store.wakeups import listen_dsn

TASK = "bench_noop"
ROOT = Path(__file__).resolve().parents[1]


def make_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=listen_dsn(url)))

    @app.task(name=TASK)
    async def noop() -> None:
        return None

    return app


class Procrastinate:
    """One procrastinate database (schema applied), its workers and its timestamps."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.app = make_app(url).open()
        self.app.schema_manager.apply_schema()
        self.task = self.app.tasks[TASK]
        self.engine = sa.create_engine(url)

    def close(self) -> None:
        self.app.close()
        self.engine.dispose()

    def workers(self, n: int, concurrency: int) -> AbstractContextManager[None]:
        cmd = [sys.executable, "-m", "bench.queue_procrastinate", self.url, str(concurrency)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return worker_processes(cmd, n, self.log, self._registered, env=env, cwd=ROOT)

    def _registered(self) -> int:
        return self._scalar("SELECT count(*) FROM procrastinate_workers")

    def enqueue(self) -> tuple[int, datetime]:
        """One job, deferred (committed) on its own; its id and when the defer returned."""
        job_id = self.task.defer()
        return job_id, datetime.now(UTC)

    def enqueue_many(self, n: int) -> list[int]:
        """``n`` jobs in one statement: they become available at the same moment."""
        return list(self.task.batch_defer(*({} for _ in range(n))))

    def ended(self) -> int:
        return self._scalar(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('succeeded', 'failed')"
        )

    def timings(self, ids: Sequence[int]) -> dict[int, Timing]:
        events: dict[int, dict[str, datetime]] = {i: {} for i in ids}
        with self.engine.connect() as c:
            rows = c.execute(
                sa.text(
                    "SELECT job_id, type, at FROM procrastinate_events "
                    "WHERE type IN ('started', 'succeeded', 'failed')"
                )
            )
            for job_id, kind, at in rows:
                if job_id in events:
                    events[job_id][str(kind)] = at
        return {
            i: Timing(e.get("started"), e.get("succeeded") or e.get("failed"), "failed" not in e)
            for i, e in events.items()
        }

    def _scalar(self, query: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.text(query)).scalar_one())


def worker_main(url: str, concurrency: int) -> None:
    make_app(url).run_worker(concurrency=concurrency, wait=True, listen_notify=True)


if __name__ == "__main__":
    worker_main(sys.argv[1], int(sys.argv[2]))
