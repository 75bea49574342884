"""The seed documents' API shapes (api/compat.py): each seed's own example replayed, its
example response's fields checked, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from tests.uploads_helpers import upload

PROBLEM = "application/problem+json"
JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _is_time(value):
    return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00"))


def _file_id(client, h):
    r = upload(client, h, [("interview.txt", b"We met on Tuesday and talked for an hour. " * 20)])
    assert r.status_code == 202, r.text
    return r.json()["artifacts"][0]["file_id"]


def test_seed_000_jobs_create_update_read_and_timeline(client, analyst):
    _, h = analyst
    fid = _file_id(client, h)
    # "POST /jobs/ -> create new job record when file upload starts"
    r = client.post("/jobs/", json={"related_file_ids": [fid]}, headers=h)
    assert r.status_code == 201, r.text
    job = r.json()
    assert set(job) >= {
        "job_id",
        "related_file_ids",
        "current_stage",
        "stages_history",
        "status",
        "created_at",
        "updated_at",
    }
    assert job["related_file_ids"] == [fid] and job["current_stage"] == "Uploading"
    assert job["status"] == "Pending"
    job_id = job["job_id"]
    assert r.headers["Location"] == f"/jobs/{job_id}"

    # "PATCH /jobs/{job_id} -> update job stage/status", twice: idempotent
    for _ in range(2):
        r = client.patch(
            f"/jobs/{job_id}",
            json={"current_stage": "Transcribing", "status": "InProgress"},
            headers=h,
        )
        assert r.status_code == 200, r.text
    # "GET /jobs/{job_id} -> fetch latest job status", as the seed's example shows it
    got = client.get(f"/jobs/{job_id}", headers={**h, **JSON})
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["status"] == "InProgress" and body["current_stage"] == "Transcribing"
    history = body["stages_history"]
    assert [e["stage"] for e in history] == ["Uploading", "Transcribing"]
    assert all(set(e) == {"stage", "timestamp"} and _is_time(e["timestamp"]) for e in history)
    assert _is_time(body["created_at"]) and _is_time(body["updated_at"])
    assert body["updated_at"] >= body["created_at"]
    # a client that does not ask for JSON gets the page
    assert "json" not in client.get(f"/jobs/{job_id}", headers=h).headers["content-type"]

    # "GET /jobs/{job_id}/timeline -> return full status history"
    timeline = client.get(f"/jobs/{job_id}/timeline", headers=h).json()
    assert [(e["kind"], e["stage"]) for e in timeline["stages_history"]] == [
        ("created", "Uploading"),
        ("attempt", "Transcribing"),
        ("stage", "Transcribing"),
    ]

    # the Failed state with its error reason
    r = client.patch(
        f"/jobs/{job_id}",
        json={"status": "Failed", "error": {"message": "The speech engine crashed."}},
        headers=h,
    )
    assert r.json()["status"] == "Failed"
    assert r.json()["message"] == "Processing failed. The speech engine crashed."


def test_seed_000_page_and_json_share_the_path(client, analyst):
    _, h = analyst
    job_id = client.post("/jobs/", json={}, headers=h).json()["job_id"]
    page = client.get(f"/jobs/{job_id}", headers=BROWSER, follow_redirects=False)
    assert "json" not in page.headers.get("content-type", "")  # the page (or its sign-in)
    assert page.status_code in (200, 303, 307)


def test_seed_001_session_status(client, analyst, job_factory):
    _, h = analyst
    job = job_factory(h, duration_total=3600, unit="audio_seconds", stages=["Transcribing"])
    # the worker (or an outside service) reports units done and no percentage
    r = client.patch(
        f"/api/v1/jobs/{job['job_id']}",
        json={"status": "processing", "duration_processed": 1200},
        headers=h,
    )
    assert r.json()["progress"] == 33.3  # duration_processed moved it
    r = client.get(f"/api/v1/sessions/{job['job_id']}/status", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    example = {
        "session_id": "uuid",
        "status": "processing",
        "progress": 45,
        "estimated_completion": "2025-01-09T10:30:00Z",
        "started_at": "2025-01-09T10:20:00Z",
        "message": "Processing audio...",
        "duration_processed": 1200,
        "duration_total": 3600,
    }
    assert set(body) >= set(example)
    assert body["session_id"] == job["job_id"] and body["status"] == "processing"
    assert body["duration_processed"] == 1200 and body["duration_total"] == 3600
    assert isinstance(body["progress"], int | float) and _is_time(body["started_at"])
    assert body["message"].startswith("Processing")
    assert body["estimated_completion"] is None or _is_time(body["estimated_completion"])


def test_seed_002_camel_case_status_callback_and_retry(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h, stages=["analyzing", "generating"])["job_id"]
    r = client.post(
        f"/api/jobs/{job_id}/callback",
        json={"status": "processing", "currentStage": "analyzing", "progress": 50},
        headers=h,
    )
    assert r.status_code == 200, r.text
    # the seed's "Example Response"
    body = client.get(f"/api/jobs/{job_id}", headers=h).json()
    assert set(body) >= {"jobId", "status", "progress", "currentStage", "createdAt", "updatedAt"}
    assert (body["jobId"], body["status"], body["progress"], body["currentStage"]) == (
        job_id,
        "processing",
        50,
        "analyzing",
    )
    # "Stores error details if failed", categorised the seed's way
    r = client.post(
        f"/api/jobs/{job_id}/callback",
        json={
            "status": "failed",
            "error": {
                "code": "chart_failed",
                "message": "No chart fits.",
                "category": "visualization",
            },
        },
        headers=h,
    )
    failed = r.json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "chart_failed"
    assert failed["error"]["category"] == "processing"
    assert failed["message"] == "Processing failed. Please try again. No chart fits."
    r = client.post(f"/api/jobs/{job_id}/retry", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "pending"


def test_seed_routes_keep_the_rules_and_the_errors(
    client, analyst, user_factory, login, job_factory
):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    other = login(user_factory("analyst").username)
    for path in (f"/jobs/{job_id}", f"/api/v1/sessions/{job_id}/status", f"/api/jobs/{job_id}"):
        r = client.get(path, headers={**other, **JSON})
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, path
        assert client.get(path, headers=JSON).status_code == 401
    r = client.patch(f"/jobs/{job_id}", json={"status": "Bogus"}, headers=h)
    assert r.status_code == 422 and "unknown status 'Bogus'" in r.json()["detail"]
    for status in ("processing", "completed"):
        r = client.post(f"/api/jobs/{job_id}/callback", json={"status": status}, headers=h)
        assert r.status_code == 200, r.text
    r = client.post(f"/api/jobs/{job_id}/callback", json={"status": "processing"}, headers=h)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM  # the status machine


def test_openapi_marks_them_as_compatibility(client):
    spec = client.get("/openapi.json").json()
    assert any(t["name"] == "seed compatibility" for t in spec["tags"])
    for path, method in (
        ("/jobs/", "post"),
        ("/jobs/{job_id}", "patch"),
        ("/jobs/{job_id}", "get"),
        ("/jobs/{job_id}/timeline", "get"),
        ("/api/v1/sessions/{session_id}/status", "get"),
        ("/api/jobs/{job_id}", "get"),
        ("/api/jobs/{job_id}/callback", "post"),
    ):
        op = spec["paths"][path][method]
        assert op["tags"] == ["seed compatibility"] and op["x-stagecoach-compat"] is True
