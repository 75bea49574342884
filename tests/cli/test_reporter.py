"""The Reporter against a real server: throttled reports, a server restart in the middle
(nothing lost, nothing twice in the timeline), a repeated report, attaching to a job."""

from __future__ import annotations

import time

import pytest

from stagecoach.client import Client, Conflict
from tests.conftest import PASSWORD


def _wait_for(pred, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_reporter_drives_a_job_through_a_server_restart(served, account):
    with Client.login(served.url, account, PASSWORD) as c:
        r = c.reporter(
            stages=["Fetching", "Crunching"], duration_total=100, unit="items", case_name="Ext"
        )
        r.end_wait = 15
        assert c.status(r.job_id)["status"] == "pending"
        r.stage("Fetching", total=40)
        for _ in range(40):
            r.advance(1)  # a tight loop: throttled to about one report a second
        _wait_for(lambda: c.status(r.job_id)["progress"] >= 50)

        served.stop()
        started = time.monotonic()
        r.stage("Crunching", total=60)
        r.advance(30)
        assert time.monotonic() - started < 0.5  # the caller's work never waits on the server
        time.sleep(1.5)  # several failed attempts, backing off
        assert r.last_error is not None and r.last_error.status == 0
        served.start()
        r.advance(30)
        assert r.complete("Crunched 100 items.") is True
        r.close()

        done = c.status(r.job_id)
        assert done["status"] == "completed" and done["message"] == "Crunched 100 items."
        assert done["case_name"] == "Ext" and done["duration_processed"] == 100
        entries = c.timeline(r.job_id)
        kinds = [(e["kind"], e["status"], e["stage"]) for e in entries]
        assert kinds == [
            ("created", "pending", "Fetching"),
            ("attempt", "processing", "Fetching"),
            ("stage", "processing", "Crunching"),
            ("status", "completed", "Crunching"),
        ]


def test_a_repeated_report_is_harmless_and_an_old_one_ignored(served, account):
    with Client.login(served.url, account, PASSWORD) as c:
        job = c.create_job(stages=["Working"], duration_total=10)
        first = c.report(job["job_id"], status="processing", duration_processed=4, seq=10)
        again = c.report(job["job_id"], status="processing", duration_processed=4, seq=10)
        old = c.report(job["job_id"], duration_processed=2, seq=9)
        assert first["progress"] == again["progress"] == old["progress"] == 40  # from units
        assert len(c.timeline(job["job_id"])) == 2


def test_attach_to_an_existing_job_and_fail_it(served, account):
    with Client.login(served.url, account, PASSWORD) as c:
        job = c.create_job(stages=["Working"])
        c.report(job["job_id"], status="processing", message="Working hard", seq=2**50)
        # a later process attaches: its reports outrank the earlier process's
        with c.reporter(job_id=job["job_id"]) as r:
            r.end_wait = 10
            assert r.fail("upstream_down", "The upstream service did not answer.", retryable=True)
        doc = c.status(job["job_id"])
        assert doc["status"] == "failed"
        assert doc["message"] == (
            "Processing failed. Please try again. The upstream service did not answer."
        )
        assert doc["error"]["code"] == "upstream_down" and doc["error"]["retryable"] is True
        with pytest.raises(Conflict):
            c.report(job["job_id"], status="completed")  # an ended job takes no more


def test_an_exception_in_the_block_fails_the_job(served, account):
    with Client.login(served.url, account, PASSWORD) as c:
        with pytest.raises(ZeroDivisionError), c.reporter(stages=["Dividing"]) as r:
            r.stage("Dividing")
            1 / 0  # noqa: B018
        doc = c.status(r.job_id)
        assert doc["status"] == "failed" and "ZeroDivisionError" in doc["error"]["message"]


def test_events_resume_across_a_server_restart(served, account):
    import threading

    with Client.login(served.url, account, PASSWORD) as c:
        job = c.create_job(stages=["A", "B"])
        seen: list[dict] = []
        follow = threading.Thread(
            target=lambda: seen.extend(c.events(job["job_id"], max_failures=100)), daemon=True
        )
        follow.start()
        _wait_for(lambda: seen)
        served.restart()
        c.report(job["job_id"], status="processing", current_stage="A")
        c.report(job["job_id"], current_stage="B")
        c.report(job["job_id"], status="completed")
        follow.join(30)
        assert not follow.is_alive()
        assert seen[0]["status"] == "pending" and seen[-1]["status"] == "completed"
        assert "B" in [d["current_stage"] for d in seen]
