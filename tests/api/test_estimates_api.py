"""Estimates through the API, with the test's clock: seed 001 Example 1 end to end."""

from __future__ import annotations


def test_sixty_minute_recording_after_thirty_minutes(client, analyst, job_factory, clock):
    _, h = analyst
    job = job_factory(
        h, stages=["Transcribing"], duration_total=3600, unit="audio_seconds", pipeline="audio"
    )
    # Before it starts, the 4x prior says about four hours.
    assert 3.6 * 3600 <= job["eta_seconds"] <= 4.4 * 3600
    job_id = job["job_id"]
    client.patch(
        f"/api/v1/jobs/{job_id}",
        json={"status": "processing", "current_stage": "Transcribing"},
        headers=h,
    )
    clock.advance(30 * 60)
    r = client.patch(
        f"/api/v1/jobs/{job_id}", json={"duration_processed": 450, "progress": 12.5}, headers=h
    )
    doc = r.json()
    assert doc["status"] == "processing"
    assert 12 <= doc["progress"] <= 15
    assert abs(doc["eta_seconds"] - 3.5 * 3600) <= 0.1 * 3.5 * 3600
    assert doc["eta_text"] == "~3.5 hours left"
    assert doc["message"] == "Processing audio..."
    assert doc["eta_low"] < doc["estimated_completion"] < doc["eta_high"]


def test_estimate_follows_a_faster_run(client, analyst, job_factory, clock):
    _, h = analyst
    job_id = job_factory(
        h, stages=["Transcribing"], duration_total=600, unit="audio_seconds", pipeline="audio"
    )["job_id"]
    client.patch(f"/api/v1/jobs/{job_id}", json={"status": "processing"}, headers=h)
    etas = []
    for minute in range(1, 6):
        clock.advance(60)
        # 0.2x real time: 300 audio seconds per minute, far faster than the 4x prior
        doc = client.patch(
            f"/api/v1/jobs/{job_id}", json={"duration_processed": min(600, 100 * minute)}, headers=h
        ).json()
        etas.append(doc["eta_seconds"])
    # the estimate falls towards the truth (~60 s left at 500/600 done after 5 minutes)
    assert etas == sorted(etas, reverse=True)
    assert etas[-1] < 600


def test_ended_jobs_have_no_estimate(client, analyst, job_factory):
    _, h = analyst
    job_id = job_factory(h, duration_total=100)["job_id"]
    doc = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=h).json()
    assert doc["eta_seconds"] is None and doc["estimated_completion"] is None
