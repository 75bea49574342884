"""Every file through its own pipeline (issue: per-file pipelines), through the real API
and real worker processes: a mixed batch where each file completes by its own stages and
one fails, the partial outcome with its downloads, retry of only the failed file, two files
of one job at once, and cancel of every file."""

from __future__ import annotations

import time

import httpx
import pytest

from stagecoach.pipelines.registry import builtin_pipelines
from tests.samples import csv_bytes, pdf_bytes, wav_bytes
from tests.worker.conftest import status_of, wait_for
from tests.worker.procs import Proc, env_for, free_port

# A broken recording: a WAV header that passes the upload's checks, and no audio after it.
BROKEN_WAV = wav_bytes(1.0)[:44] + b"\xff" * 10


def _ended(base: str, h: dict[str, str], job_id: str) -> dict | bool:
    doc = httpx.get(f"{base}/api/v1/jobs/{job_id}/status", headers=h).json()
    return doc if doc["status"] in ("completed", "failed", "cancelled") else False


@pytest.mark.slow
def test_mixed_batch_each_file_by_its_own_pipeline_partial_outcome_and_retry(
    wsettings, owner, tmp_path
):
    port = free_port()
    server = Proc(["serve", "--port", str(port)], env_for(wsettings), tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=30)
        tok = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": owner.username, "password": "pw-pw-pw-pw"},
        ).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        files = [
            ("files", ("interview.wav", wav_bytes(1.5))),
            ("files", ("report.pdf", pdf_bytes(2))),
            ("files", ("sales.csv", csv_bytes(20))),
            ("files", ("broken.wav", BROKEN_WAV)),
        ]
        r = httpx.post(f"{base}/api/v1/upload", files=files, headers=h, timeout=30)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        doc = wait_for(lambda: _ended(base, h, job_id), timeout=90, every=0.2)
        assert doc["status"] == "completed" and doc["outcome"] == "partial", doc
        assert (doc["files_total"], doc["files_done"], doc["files_failed"]) == (4, 3, 1)
        assert doc["error"]["message"].startswith("broken.wav: ")
        pipelines = builtin_pipelines()
        by_name = {a["filename"]: a for a in doc["artifacts"]}
        for name, pipeline in [
            ("interview.wav", "audio"),
            ("report.pdf", "document"),
            ("sales.csv", "dataset"),
        ]:
            a = by_name[name]
            assert a["pipeline"] == pipeline and a["status"] == "completed", a
            # each completed by its own pipeline's stages, with their timings
            assert set(a["processing_stages"]) == set(pipelines[pipeline].stage_names)
        assert by_name["broken.wav"]["status"] == "failed"
        assert by_name["broken.wav"]["pipeline"] == "audio"

        # the succeeded files' results can be downloaded
        results = httpx.get(f"{base}/api/v1/jobs/{job_id}/results", headers=h).json()["results"]
        owners = {r["artifact_id"] for r in results}
        assert owners == {
            by_name[n]["artifact_id"] for n in ("interview.wav", "report.pdf", "sales.csv")
        }
        for res in results:
            got = httpx.get(f"{base}/api/v1/jobs/{job_id}/results/{res['name']}", headers=h)
            assert got.status_code == 200 and len(got.content) == res["size"]

        # retry runs only the failed file again; the others keep results and timings
        kept = {n: by_name[n] for n in ("interview.wav", "report.pdf", "sales.csv")}
        r = httpx.post(f"{base}/api/v1/jobs/{job_id}/retry", headers=h)
        assert r.status_code == 200, r.text
        again = wait_for(lambda: _ended(base, h, job_id), timeout=60, every=0.2)
        assert again["outcome"] == "partial"
        now = {a["filename"]: a for a in again["artifacts"]}
        for n, before in kept.items():
            assert now[n]["completed_at"] == before["completed_at"]
            assert now[n]["processing_stages"] == before["processing_stages"]
            assert now[n]["attempts"] == 1
        assert now["broken.wav"]["attempts"] == 2
        timeline = httpx.get(f"{base}/api/v1/jobs/{job_id}/timeline", headers=h).json()
        claims = [e for e in timeline["entries"] if e["kind"] == "attempt"]
        assert len(claims) == 5  # four files once, the failed one again

        # a job stagecoach runs takes no outside reports
        r = httpx.patch(f"{base}/api/v1/jobs/{job_id}", json={"status": "completed"}, headers=h)
        assert r.status_code == 409 and "POST /api/v1/jobs" in r.json()["detail"]
    finally:
        server.stop()
    assert "crashed" not in (tmp_path / "serve.log").read_text()


def test_two_files_of_one_job_run_at_once_and_cancel_stops_both(
    wservices, owner, make_job, make_file, start_worker
):
    job_id = make_job("hang", [make_file(name="a.bin"), make_file(name="b.bin")])
    worker = start_worker(concurrency=2)
    wait_for(lambda: status_of(wservices, owner, job_id)["files_running"] == 2, timeout=20)
    assert len(worker.runners) == 2
    asked = time.monotonic()
    wservices.tracking.cancel(owner, job_id)
    wait_for(lambda: not worker.runners, timeout=2.5, every=0.02)
    assert time.monotonic() - asked <= 2.5
    doc = status_of(wservices, owner, job_id)
    assert doc["status"] == "cancelled"
    assert [a["status"] for a in doc["artifacts"]] == ["cancelled", "cancelled"]


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
