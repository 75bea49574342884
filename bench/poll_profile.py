"""Profile the real-job status poll in-process with pyinstrument (not a benchmark).

Seeds ``bench.poll_bench``'s ``real`` case (five files a job) on SQLite, then runs the poll's
service path (``token_user``, ``Tracking.poll``, orjson) in this thread, once without and once
with If-None-Match, and prints pyinstrument's tree for each. FastAPI's routing and the
thread-pool hop are not in it (see docs/performance.md). Run: python -m bench.poll_profile
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import orjson
from pyinstrument import Profiler

import bench.poll_bench as pb
from stagecoach.api.deps import token_user
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.settings import Settings

POLLS = int(os.environ.get("BENCH_PROFILE_POLLS", "3000"))


def main() -> None:
    pb.JOBS = int(os.environ.get("BENCH_POLL_JOBS", "400"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data}/db.sqlite"
        ids, user = pb.seed(url, data, "real")
        settings = Settings(
            database_url=url, data_dir=data, admin_password="x" * 12, secret_key="bench-secret-key"
        )
        services = Services(ServiceContext.from_settings(settings))
        try:
            auth = "Bearer " + services.accounts.login(user, "poller-password")
            sample = ids[:50]
            viewer, _ = token_user(services, auth, "")
            etags = {i: services.tracking.poll(viewer, i)[0] for i in sample}
            for mode in ("200", "If-None-Match"):
                profiler = Profiler(interval=0.0005, async_mode="disabled")
                profiler.start()
                for _ in range(POLLS):
                    job_id = random.choice(sample)
                    viewer, _ = token_user(services, auth, "")
                    tag = None if mode == "200" else etags[job_id]
                    _, doc = services.tracking.poll(viewer, job_id, tag)
                    if doc is not None:
                        orjson.dumps(doc)
                profiler.stop()
                print(f"===== {mode}")
                print(profiler.output_text(unicode=False, color=False))
        finally:
            services.ctx.db.dispose()


if __name__ == "__main__":
    main()
