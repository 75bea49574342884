"""The jobs API over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

PROBLEM = "application/problem+json"


def test_create_and_read_job(client, analyst, job_factory):
    _, h = analyst
    job = job_factory(h, pipeline="audio", case_name="Case 1", duration_total=3600)
    assert job["status"] == "pending"
    assert job["current_stage"] == "Uploading"
    assert job["duration_total"] == 3600
    r = client.get(f"/api/v1/jobs/{job['job_id']}", headers=h)
    assert r.status_code == 200
    assert r.json()["case_name"] == "Case 1"
    assert r.json()["artifacts"] == []


def test_patch_stage_appends_one_history_entry_and_is_idempotent(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    body = {"status": "processing", "current_stage": "Transcribing", "progress": 10}
    first = client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=h).json()
    again = client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=h).json()
    assert first["status"] == again["status"] == "processing"
    assert again["updated_at"] == first["updated_at"]  # no real change, no move
    entries = client.get(f"/api/v1/jobs/{job_id}/timeline", headers=h).json()["entries"]
    kinds = [(e["kind"], e["stage"]) for e in entries]
    assert kinds.count(("stage", "Transcribing")) == 1
    assert [e["kind"] for e in entries][0] == "created"
    assert entries == sorted(entries, key=lambda e: e["at"])


def test_progress_never_goes_backwards_within_an_attempt(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing", "progress": 40}, headers=h)
    r = client.patch(f"/api/v1/jobs/{job_id}", json={"progress": 25}, headers=h)
    assert r.status_code == 200
    assert r.json()["progress"] == 40


def test_stale_seq_is_ignored(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(
        f"/api/v1/jobs/{job_id}",
        json={"seq": 5, "status": "processing", "current_stage": "B"},
        headers=h,
    )
    r = client.patch(f"/api/v1/jobs/{job_id}", json={"seq": 3, "current_stage": "A"}, headers=h)
    assert r.json()["current_stage"] == "B"


def test_completed_job_refuses_processing_with_409(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
    done = client.patch(f"/api/v1/jobs/{job_id}", json={"status": "completed"}, headers=h)
    assert done.json()["progress"] == 100
    assert done.json()["message"]
    r = client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert "completed" in r.json()["detail"] and "allowed next" in r.json()["detail"]


def test_failure_carries_error_object_and_retry(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing", "progress": 33}, headers=h)
    err = {
        "code": "asr_timeout",
        "category": "dependency",
        "retryable": True,
        "message": "Speech engine timed out",
        "hint": "Try again in a minute",
    }
    r = client.patch(f"/api/v1/jobs/{job_id}", json={"status": "failed", "error": err}, headers=h)
    doc = r.json()
    assert doc["status"] == "failed"
    assert doc["progress"] == 33  # stays where it stopped
    assert doc["error"]["code"] == "asr_timeout" and doc["error"]["retryable"] is True
    assert doc["message"].startswith("Processing failed. Please try again.")
    r = client.post(f"/api/v1/jobs/{job_id}/retry", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert r.json()["error"] is None


def test_retry_past_the_limit_is_409(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    for _ in range(3):
        client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
        client.patch(f"/api/v1/jobs/{job_id}", json={"status": "failed"}, headers=h)
        client.post(f"/api/v1/jobs/{job_id}/retry", headers=h)
    r = client.post(f"/api/v1/jobs/{job_id}/retry", headers=h)
    assert r.status_code == 409
    assert "attempts" in r.json()["detail"]


def test_cancel(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    r = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h)
    assert r.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h).status_code == 409


def test_status_etag_and_304(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    r = client.get(f"/api/v1/jobs/{job_id}/status", headers=h)
    etag = r.headers["etag"]
    assert etag.startswith('"')
    r2 = client.get(f"/api/v1/jobs/{job_id}/status", headers={**h, "If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    client.patch(f"/api/v1/jobs/{job_id}", json={"message": "hello"}, headers=h)
    r3 = client.get(f"/api/v1/jobs/{job_id}/status", headers={**h, "If-None-Match": etag})
    assert r3.status_code == 200 and r3.json()["message"] == "hello"


def test_list_filters_and_paginates_newest_first(client, analyst, job_factory, clock):
    _, h = analyst
    ids = []
    for i in range(5):
        clock.advance(1)
        ids.append(job_factory(h, case_name="A" if i % 2 else "B")["job_id"])
    client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=h)
    page = client.get("/api/v1/jobs?limit=2", headers=h).json()
    assert page["total"] == 5 and [j["job_id"] for j in page["jobs"]] == ids[::-1][:2]
    page2 = client.get("/api/v1/jobs?limit=2&offset=2", headers=h).json()
    assert [j["job_id"] for j in page2["jobs"]] == ids[::-1][2:4]
    a = client.get("/api/v1/jobs?case_name=A", headers=h).json()
    assert {j["job_id"] for j in a["jobs"]} == {ids[1], ids[3]}
    c = client.get("/api/v1/jobs?status=cancelled", headers=h).json()
    assert [j["job_id"] for j in c["jobs"]] == [ids[0]]
    assert client.get("/api/v1/jobs?status=bogus", headers=h).status_code == 422


@pytest.mark.parametrize(
    "body, field",
    [
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"progress": "lots"}, "progress"),
        ({"status": "done"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"seq": -4}, "seq"),
    ],
)
def test_bad_patch_bodies_are_422_and_change_nothing(client, analyst, job_factory, body, field):
    _, h = analyst
    job = job_factory(h)
    r = client.patch(f"/api/v1/jobs/{job['job_id']}", json=body, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert field in r.json()["detail"]
    after = client.get(f"/api/v1/jobs/{job['job_id']}", headers=h).json()
    assert after["updated_at"] == job["updated_at"]


def test_malformed_json_is_422(client, analyst, job_factory):
    _, h = analyst
    job = job_factory(h)
    r = client.patch(
        f"/api/v1/jobs/{job['job_id']}",
        content=b"{not json",
        headers={**h, "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_body_over_limit_is_413(client, analyst, job_factory):
    _, h = analyst
    job = job_factory(h)
    big = json.dumps({"message": "x" * 400_000})
    r = client.patch(
        f"/api/v1/jobs/{job['job_id']}",
        content=big,
        headers={**h, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


def test_no_token_is_401_and_bad_token_is_401(client):
    r = client.get("/api/v1/jobs")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    r = client.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_unknown_parent_or_file_is_404_and_creates_nothing(client, analyst):
    _, h = analyst
    r = client.post("/api/v1/jobs", json={"parent_job_id": "missing"}, headers=h)
    assert r.status_code == 404
    r = client.post("/api/v1/jobs", json={"related_file_ids": ["nope"]}, headers=h)
    assert r.status_code == 404
    assert client.get("/api/v1/jobs", headers=h).json()["total"] == 0


def test_fifty_concurrent_patches_leave_a_consistent_history(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h)["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
    stages = ["Decoding", "Transcribing", "Analyzing"]

    def send(i: int) -> int:
        body = {"current_stage": stages[i // 17], "progress": i * 2, "seq": i}
        return client.patch(f"/api/v1/jobs/{job_id}", json=body, headers=h).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(send, range(50)))
    assert set(codes) == {200}
    entries = client.get(f"/api/v1/jobs/{job_id}/timeline", headers=h).json()["entries"]
    stage_entries = [e["stage"] for e in entries if e["kind"] == "stage"]
    # Each stage appears at most once per arrival; none is lost from the final state.
    for s in stage_entries:
        assert s in stages
    consecutive_dupes = [
        a for a, b in zip(stage_entries, stage_entries[1:], strict=False) if a == b
    ]
    assert consecutive_dupes == []
    final = client.get(f"/api/v1/jobs/{job_id}", headers=h).json()
    # The newest report (seq 49) is in the final state, whatever order they arrived in.
    assert final["progress"] == 98
    assert final["current_stage"] == "Analyzing"


def test_status_poll_edges(client, analyst, job_factory):
    user, h = analyst
    job_id = job_factory(h)["job_id"]
    token = h["Authorization"].split()[1]
    # a page's session cookie works as the bearer token does
    r = client.get(
        f"/api/v1/jobs/{job_id}/status",
        headers={"Cookie": f"theme=dark; stagecoach_session={token}"},
    )
    assert r.status_code == 200 and r.json()["job_id"] == job_id
    # other methods on the path fall through to the app's routing
    assert client.post(f"/api/v1/jobs/{job_id}/status", headers=h).status_code == 405
    # errors are problem+json, 401 with a challenge
    r = client.get(f"/api/v1/jobs/{job_id}/status", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == PROBLEM
    # the endpoint is documented
    assert "/api/v1/jobs/{job_id}/status" in client.get("/openapi.json").json()["paths"]
