"""Pickup: how soon an idle worker starts a job once its upload completes.

A server without a worker (`stagecoach serve --no-worker`) takes the uploads, and a separate
`stagecoach worker` process runs them, on SQLite and on PostgreSQL. A small text file is
uploaded every 0.3 to 0.7 s, so the worker is idle when each arrives. Pickup is the job's
`started_at` (the claim) less the upload's last write (`updated_at` in its 202). On
PostgreSQL the worker is woken by NOTIFY; on SQLite it finds the job at its next poll (every
0.25 s).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from bench.common import database, env_for, median, pct, pg_available, server, token

UPLOADS = 20


def pickups(kind: str) -> list[float]:
    out: list[float] = []
    with database(kind) as (url, data), server(url, data, cpu=None) as base:
        worker = subprocess.Popen(
            [sys.executable, "-m", "stagecoach", "worker", "--concurrency", "1"],
            env=env_for(url, data),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            note = Path(data) / "note.txt"
            note.write_text("A short note to process. " * 20)
            headers = {"Authorization": f"Bearer {token(base)}"}
            rng = random.Random(1)
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                time.sleep(2.0)  # the worker registers and goes idle
                for _ in range(UPLOADS):
                    with open(note, "rb") as f:
                        r = client.post("/api/v1/upload", files={"files": ("note.txt", f)})
                    r.raise_for_status()
                    job_id = r.json()["job_id"]
                    # the upload's last write, which made the job claimable
                    accepted = _time(r.json()["updated_at"])
                    while True:
                        doc = client.get(f"/api/v1/jobs/{job_id}/status").json()
                        if doc["status"] in ("completed", "failed"):
                            break
                        time.sleep(0.02)
                    out.append((_time(doc["started_at"]) - accepted).total_seconds())
                    time.sleep(rng.uniform(0.3, 0.7))
        finally:
            worker.terminate()
            worker.wait(20)
    return out


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def main() -> None:
    print(f"pickup of an upload by an idle worker in another process ({UPLOADS} uploads)")
    for kind in ("sqlite", "postgres"):
        if kind == "postgres" and not pg_available():
            print("  postgres: not reachable, skipped")
            continue
        ms = [s * 1000 for s in pickups(kind)]
        print(
            f"  {kind:<9} p50 {median(ms):6.1f} ms   p90 {pct(ms, 90):6.1f} ms   "
            f"max {max(ms):6.1f} ms"
        )


if __name__ == "__main__":
    main()
