"""Results endpoints, /metrics and the embedded worker, through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stagecoach.app import create_app
from tests.worker.conftest import wait_for
from tests.worker.pipelines import PIPELINES


def test_embedded_worker_processes_and_results_download(
    wsettings, wservices, owner, make_file, make_job
):
    app = create_app(wsettings, services=wservices, embedded_worker=True, pipelines=PIPELINES)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:  # /metrics: loopback
        token = client.post(
            "/api/v1/auth/token", data={"username": owner.username, "password": "pw-pw-pw-pw"}
        )
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        job_id = make_job("slow", [make_file(b"z" * 3000, "talk.wav")])
        doc = wait_for(
            lambda: (
                (d := client.get(f"/api/v1/jobs/{job_id}", headers=h).json())["status"]
                == "completed"
                and d
            )
        )
        assert doc["links"]["results"] == f"/api/v1/jobs/{job_id}/results"
        listing = client.get(doc["links"]["results"], headers=h).json()["results"]
        assert [r["name"] for r in listing] == ["talk.sha256"]
        assert listing[0]["filename"] == "talk.wav"
        r = client.get(listing[0]["url"], headers=h)
        assert r.status_code == 200 and len(r.text.strip()) == 64
        assert "attachment" in r.headers["content-disposition"]
        missing = client.get(f"/api/v1/jobs/{job_id}/results/nope.txt", headers=h)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        worker = app.state.worker
        assert worker is not None and worker.jobs_run == 1

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'stagecoach_jobs{status="completed"} 1' in text
        assert "stagecoach_queue_depth 0" in text
        assert "stagecoach_claims_total 1" in text
        assert "stagecoach_lease_expiries_total 0" in text
        assert 'stagecoach_stage_duration_seconds_count{pipeline="slow",stage="Reading"} 1' in text
        assert "stagecoach_workers_alive 1" in text
    # the lifespan stopped the worker and marked it so
    assert wservices.queue.live_workers() == []


def test_results_of_another_users_job_are_not_found(
    wsettings, wservices, owner, make_file, make_job
):
    other = wservices.accounts.create_user("someone", "pw-pw-pw-pw", "analyst")
    job_id = make_job("trivial")
    app = create_app(wsettings, services=wservices)
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": other.username, "password": "pw-pw-pw-pw"}
        )
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert client.get(f"/api/v1/jobs/{job_id}/results", headers=h).status_code == 404
        assert client.get(f"/api/v1/jobs/{job_id}/results/x", headers=h).status_code == 404
        assert client.get(f"/api/v1/jobs/{job_id}/results").status_code == 401
