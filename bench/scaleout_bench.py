"""Scale-out: two API servers over one database, behind no balancer (clients split across
them), for the status poll and SSE fan-out; and upload throughput to S3 against local storage.

- poll: browser-like pollers (each asks every 2-5 s), half on each server: p50, p99 per server;
- SSE: clients split across the servers, every progress change made through server A: the
  time to arrival on A (same process) and on B (another process: the change feed, or
  LISTEN/NOTIFY on PostgreSQL);
- upload: `stagecoach serve --no-worker` over local storage, then over S3 (a moto server on
  loopback: it keeps objects in Python's memory, so the S3 figure is stagecoach's path with
  a stand-in server, not a real S3's speed): MB/s and the server's peak RSS.

    python -m bench.scaleout_bench [--pollers 1000] [--seconds 30] [--clients 500]
                                   [--rounds 20] [--sizes-mb 1,100,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.common import ADMIN_PASSWORD, database, pct, pg_available, server, server_process
from bench.poll_bench import _poller, seed
from bench.sse_bench import Client
from bench.upload_bench import MB, RssSampler, proc_status, upload_once


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


async def poll(bases: list[str], tok: str, ids: list[str], n: int, seconds: int) -> list[dict]:
    until = time.perf_counter() + seconds
    lat: dict[str, list[float]] = {b: [] for b in bases}
    errors: dict[str, list[int]] = {b: [] for b in bases}
    await asyncio.gather(
        *[
            _poller("127.0.0.1", _port(b), tok, ids, until, lat[b], errors[b])
            for i in range(n)
            for b in [bases[i % len(bases)]]
        ]
    )
    return [
        {
            "server": b,
            "requests": len(lat[b]),
            "p50": pct(lat[b], 50),
            "p99": pct(lat[b], 99),
            "errors": len(errors[b]),
        }
        for b in bases
    ]


async def fan_out(a: str, b: str, tok: str, n_clients: int, rounds: int) -> dict[str, list[float]]:
    """Clients split across ``a`` and ``b`` on /api/v1/events; progress changed through a."""
    async with httpx.AsyncClient(base_url=a, timeout=30) as http:
        h = {"Authorization": f"Bearer {tok}"}
        job = (await http.post("/api/v1/jobs", headers=h, json={"stages": ["Work"]})).json()
        job_id = job["job_id"]
        await http.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"status": "processing"})

        arrivals = {s: defaultdict(list) for s in (a, b)}  # type: ignore[var-annotated]
        clients = [
            Client(_port(s), "/api/v1/events", tok, arrivals[s])
            for i in range(n_clients)
            for s in [(a, b)[i % 2]]
        ]
        tasks = []
        for i, c in enumerate(clients):
            tasks.append(asyncio.create_task(c.run()))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 120)
        await asyncio.sleep(1.0)
        lat: dict[str, list[float]] = {a: [], b: []}
        per_server = n_clients // 2
        for rnd in range(rounds):
            value = float(rnd + 1)
            t0 = time.perf_counter()
            (
                await http.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"progress": value})
            ).raise_for_status()
            deadline = time.perf_counter() + 5
            while time.perf_counter() < deadline and any(
                len(arrivals[s][(job_id, value)]) < per_server for s in (a, b)
            ):
                await asyncio.sleep(0.005)
            for s in (a, b):
                lat[s].extend((t - t0) * 1000 for t in arrivals[s][(job_id, value)])
            await asyncio.sleep(random.uniform(0.2, 0.5))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return lat


def two_servers(args: argparse.Namespace) -> None:
    kind = "postgres" if pg_available() else "sqlite"
    with contextlib.ExitStack() as stack:
        url, data = stack.enter_context(database(kind))
        ids, poller = seed(url, data / "seed")
        a = stack.enter_context(server(url, data / "api1", cpu=None))
        b = stack.enter_context(server(url, data / "api2", cpu=None))
        tok = httpx.post(
            f"{a}/api/v1/auth/token", data={"username": poller, "password": "poller-password"}
        ).json()["access_token"]
        rows = asyncio.run(poll([a, b], tok, ids, args.pollers, args.seconds))
        print(
            f"status poll over {kind}: {args.pollers} browser-like pollers (every 2-5 s) split "
            f"across two API servers, {args.seconds} s, {len(ids)} jobs"
        )
        for name, row in zip(("A", "B"), rows, strict=True):
            print(
                f"  server {name}: {row['requests']} requests, p50 {row['p50']:.1f} ms, "
                f"p99 {row['p99']:.1f} ms, errors {row['errors']}"
            )
        lat = asyncio.run(fan_out(a, b, tok, args.clients, args.rounds))
        print(
            f"SSE fan-out over {kind}: {args.clients} clients split across two API servers, "
            f"{args.rounds} progress changes made through server A"
        )
        for name, s in (("A (same process)", a), ("B (other process)", b)):
            v = lat[s]
            expected = args.rounds * (args.clients // 2)
            print(
                f"  on {name}: {len(v)}/{expected} delivered, p50 {pct(v, 50):.1f} ms, "
                f"p99 {pct(v, 99):.1f} ms, max {max(v, default=float('nan')):.1f} ms"
            )


def uploads(args: argparse.Namespace) -> None:
    from tests.s3server import MotoServer

    sizes = [int(float(s) * MB) for s in args.sizes_mb.split(",")]
    with tempfile.TemporaryDirectory(prefix="sc-bench-s3-") as tmp:
        moto = MotoServer(Path(tmp) / "moto.log")
        try:
            print("upload throughput, one server (SQLite), local storage against S3 (moto)")
            print(f"{'storage':>8} {'file MB':>8} {'runs':>4} {'median MB/s':>12} {'peak RSS':>9}")
            for storage in ("local", "s3"):
                extra = {}
                if storage == "s3":
                    extra = {**moto.env(), "STAGECOACH_STORAGE_URL": f"s3://{moto.new_bucket()}/b"}
                with (
                    database("sqlite") as (url, data),
                    server_process(url, data, cpu=None, extra_env=extra) as (base, proc),
                    httpx.Client(base_url=base, timeout=600) as client,
                ):
                    tok = httpx.post(
                        f"{base}/api/v1/auth/token",
                        data={"username": "admin", "password": ADMIN_PASSWORD},
                    ).json()["access_token"]
                    for size in sizes:
                        runs = 3 if size <= 100 * MB else 1
                        with RssSampler(proc.pid) as sampler:
                            times = [upload_once(client, tok, size) for _ in range(runs)]
                        peak = max(sampler.samples or [proc_status(proc.pid, "VmRSS")])
                        print(
                            f"{storage:>8} {size / MB:>8.1f} {runs:>4} "
                            f"{size / statistics.median(times) / MB:>12.1f} "
                            f"{peak / 1024:>5.0f} MiB"
                        )
        finally:
            moto.close()
    print(f"load average: {os.getloadavg()[0]:.1f} (other work shares the cores)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pollers", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--sizes-mb", default="1,100,1000")
    ap.add_argument("--part", choices=["all", "servers", "upload"], default="all")
    args, _ = ap.parse_known_args(argv)  # `python -m bench scaleout` passes its own words
    if args.part in ("all", "servers"):
        two_servers(args)
    if args.part in ("all", "upload"):
        uploads(args)


if __name__ == "__main__":
    main()
