"""Several hosts on one machine (network namespaces): PostgreSQL, an S3-compatible server
(moto), two API servers and two workers, each with its own data directory and no shared
filesystem. An upload through API 1 is processed on a worker host, followed live over SSE
from API 2 and downloaded from API 2; the worker host holding the job is killed mid-job and
the other worker finishes the file."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.dbs import REQUIRE_PG, PgTemplates
from tests.multihost.netns import Network, TcpForwarder, unavailable
from tests.s3server import MotoServer
from tests.worker.procs import PIPELINES, ROOT, STAGECOACH

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(110)]

HOSTS = ["api1", "api2", "w1", "w2"]
PORT = 8000  # every host has its own address, so they can all use one port
SECRET = "multihost-test-secret-shared-by-both-api-servers"
ADMIN_PASSWORD = "admin-password"
DATA = b"".join(f"line {i:06d} of a file that crosses hosts\n".encode() for i in range(5000))


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    why = unavailable()
    if why is not None:
        if REQUIRE_PG:  # CI runs as root with iproute2: there this test must run
            pytest.fail(
                f"the multi-host test cannot run (STAGECOACH_TEST_REQUIRE_POSTGRES=1): {why}"
            )
        pytest.skip(f"multi-host test skipped: {why}")
    net = Network(HOSTS)
    yield net
    net.close()


class Host:
    """One process on one host, in its own process group (so the whole host can die)."""

    def __init__(self, net: Network, host: str, args: list[str], env: dict[str, str], log: Path):
        self.host = host
        self.log = log
        self._out = log.open("ab")
        self.p = subprocess.Popen(
            [*net.prefix(host), str(STAGECOACH), *args],
            env=env,
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def wait_for(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def follow(url: str, headers: dict[str, str], seen: list[dict[str, Any]]) -> None:
    """Read a job's SSE stream until it ends in a terminal status."""
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=60)) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: "):
                doc = json.loads(line[6:])
                seen.append(doc)
                if doc.get("status") in ("completed", "failed", "cancelled"):
                    return


def test_upload_on_one_host_processed_on_another_followed_and_downloaded_from_a_third(
    network: Network, pg_templates: PgTemplates, tmp_path: Path
):
    gw = network.gateway
    db_url = pg_templates.new()
    pg = TcpForwarder(gw, ("127.0.0.1", urlsplit(db_url).port or 5432))
    s3 = MotoServer(tmp_path / "moto.log", host=gw)
    procs: dict[str, Host] = {}
    try:
        parts = urlsplit(db_url)
        shared_db = urlunsplit(parts._replace(netloc=f"postgres@{gw}:{pg.port}"))
        bucket = s3.new_bucket()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("STAGECOACH_", "AWS_"))}
        base.update(
            s3.env(),
            PYTHONPATH=str(ROOT),
            COVERAGE_PROCESS_START="",
            STAGECOACH_DATABASE_URL=shared_db,
            STAGECOACH_STORAGE_URL=f"s3://{bucket}/stagecoach",
            STAGECOACH_SECRET_KEY=SECRET,
            STAGECOACH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STAGECOACH_LEASE_SECONDS="2",
            STAGECOACH_RETRY_BACKOFF_SECONDS="0.2",
            STAGECOACH_PROGRESS_WRITE_INTERVAL="0.2",
            STAGECOACH_TEST_CHUNK_DELAY="0.02",  # 1 KiB a chunk: the file takes ~4 s
            STAGECOACH_LOG_FORMAT="json",
        )

        def start(host: str, *args: str) -> Host:
            env = {**base, "STAGECOACH_DATA_DIR": str(tmp_path / host)}
            procs[host] = Host(network, host, list(args), env, tmp_path / f"{host}.log")
            return procs[host]

        url = {h: f"http://{network.addresses[h]}:{PORT}" for h in ("api1", "api2")}
        serve = ["serve", "--no-worker", "--pipelines", PIPELINES, "--port", str(PORT)]
        start("api1", *serve, "--host", network.addresses["api1"])
        wait_for(lambda: _answers(f"{url['api1']}/healthz"), 40, "api1 answers")
        # api1 has made the admin account; the other hosts start together
        start("api2", *serve, "--host", network.addresses["api2"])
        for h in ("w1", "w2"):
            start(h, "worker", "--pipelines", PIPELINES, "--concurrency", "1")
        worker_ids = {}
        for h in ("w1", "w2"):
            log = tmp_path / f"{h}.log"
            found = wait_for(
                lambda log=log: re.search(r"worker (\S+) running", log.read_text()), 40, h
            )
            worker_ids[found.group(1)] = h
        wait_for(lambda: _answers(f"{url['api2']}/healthz"), 40, "api2 answers")

        token = httpx.post(
            f"{url['api1']}/api/v1/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        up = httpx.post(
            f"{url['api1']}/api/v1/upload",
            headers=auth,
            files={"files": ("crossing.txt", DATA, "text/plain")},
            data={"pipeline": "slow"},
            timeout=30,
        )
        assert up.status_code == 202, up.text
        job_id = up.json()["job_id"]

        seen: list[dict[str, Any]] = []
        follower = threading.Thread(
            target=follow, args=(f"{url['api2']}/api/v1/jobs/{job_id}/events", auth, seen)
        )
        follower.start()

        engine = sa.create_engine(db_url)  # the test reads the database over loopback
        try:

            def holder() -> str | None:  # the file (the unit of work) names its worker
                with engine.connect() as c:
                    row = c.execute(
                        sa.text(
                            "SELECT worker_id, status, progress FROM artifacts WHERE job_id=:j"
                        ),
                        {"j": job_id},
                    ).one()
                busy = row.status == "processing" and (row.progress or 0) > 0
                return worker_ids.get(row.worker_id) if busy else None

            first = wait_for(holder, 40, "a worker host is mid-job")
            other = "w2" if first == "w1" else "w1"
            procs[first].kill()  # the host dies: its processes and its network
            network.cut(first)
            follower.join(60)
            assert not follower.is_alive(), "the SSE stream from api2 did not see the end"
            with engine.connect() as c:
                final = c.execute(
                    sa.text("SELECT worker_id, attempts FROM artifacts WHERE job_id=:j"),
                    {"j": job_id},
                ).one()
        finally:
            engine.dispose()

        done = seen[-1]
        assert done["status"] == "completed", done
        assert final.attempts == 2  # the second attempt, on the other host
        assert any(d["status"] == "processing" for d in seen)  # followed live, not just the end
        results = httpx.get(f"{url['api2']}/api/v1/jobs/{job_id}/results", headers=auth).json()
        assert [r["name"] for r in results["results"]] == ["crossing.sha256"]
        digest = httpx.get(f"{url['api2']}{results['results'][0]['url']}", headers=auth)
        assert digest.text.strip() == hashlib.sha256(DATA).hexdigest()
        file_id = up.json()["artifacts"][0]["file_id"]
        content = f"{url['api2']}/api/v1/files/{file_id}/content"
        whole = httpx.get(content, headers=auth)
        assert whole.status_code == 200 and whole.content == DATA
        part = httpx.get(content, headers={**auth, "Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == DATA[100:200]
        # no host kept the file: no local storage anywhere, no cached copy on the survivor
        for h in HOSTS:
            assert not (tmp_path / h / "files").exists(), h
        assert not [p for p in (tmp_path / other / "cache").rglob("*") if p.is_file()]
    finally:
        for proc in procs.values():
            proc.stop()
        s3.close()
        pg.close()
        pg_templates.drop(db_url)
