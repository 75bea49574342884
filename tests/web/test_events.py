"""Live events over a real server: SSE frames, Last-Event-ID replay, visibility, cross-process."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import httpx

from stagecoach.domain.job_update import Report
from stagecoach.domain.status import JobStatus
from tests.web.conftest import api_token, sse_events


def _patch(base: str, h: dict[str, str], job_id: str, **body: object) -> None:
    r = httpx.patch(f"{base}/api/v1/jobs/{job_id}", json=body, headers=h)
    assert r.status_code == 200, r.text


def _new_job(base: str, h: dict[str, str], **body: object) -> str:
    r = httpx.post(f"{base}/api/v1/jobs", json={"stages": ["A", "B"], **body}, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def test_job_stream_sends_state_then_changes_and_replays_after_reconnect(live_server, user_factory):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _new_job(base, h)
    url = f"{base}/api/v1/jobs/{job_id}/events"
    with httpx.Client(timeout=10) as c, c.stream("GET", url, headers=h) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        first = sse_events(lines, 1)[0]
        assert first["event"] == "status" and first["data"]["status"] == "pending"
        _patch(base, h, job_id, status="processing", progress=10)
        second = sse_events(lines, 1)[0]
        assert second["data"]["progress"] == 10
        assert int(second["id"]) > int(first["id"])
        seen = second["id"]
    # while disconnected, the job moves on
    _patch(base, h, job_id, progress=20)
    _patch(base, h, job_id, progress=30, current_stage="B")
    with (
        httpx.Client(timeout=10) as c,
        c.stream("GET", url, headers={**h, "Last-Event-ID": seen}) as r,
    ):
        lines = r.iter_lines()
        missed = sse_events(lines, 1)[0]
        assert missed["data"]["progress"] == 30 and missed["data"]["current_stage"] == "B"
        assert int(missed["id"]) > int(seen)
        _patch(base, h, job_id, progress=55)
        assert sse_events(lines, 1)[0]["data"]["progress"] == 55


def test_all_jobs_stream_shows_only_visible_jobs_and_replays(live_server, user_factory):
    base = live_server.url
    me = user_factory("analyst")
    other = user_factory("analyst")
    h, h_other = api_token(base, me.username), api_token(base, other.username)
    mine = _new_job(base, h)
    theirs = _new_job(base, h_other)
    with httpx.Client(timeout=10) as c, c.stream("GET", f"{base}/api/v1/events", headers=h) as r:
        lines = r.iter_lines()
        _patch(base, h_other, theirs, status="processing", progress=50)
        _patch(base, h, mine, status="processing", progress=7)
        got = sse_events(lines, 1)[0]
        assert got["data"]["job_id"] == mine and got["data"]["progress"] == 7
        last = got["id"]
    _patch(base, h_other, theirs, progress=60)
    _patch(base, h, mine, progress=8)
    with (
        httpx.Client(timeout=10) as c,
        c.stream("GET", f"{base}/api/v1/events", headers={**h, "Last-Event-ID": last}) as r,
    ):
        got = sse_events(r.iter_lines(), 1)[0]
        assert got["data"]["job_id"] == mine and got["data"]["progress"] == 8


def test_another_users_job_stream_is_404_and_no_token_is_401(live_server, user_factory):
    base = live_server.url
    owner, other = user_factory("analyst"), user_factory("analyst")
    job_id = _new_job(base, api_token(base, owner.username))
    r = httpx.get(f"{base}/api/v1/jobs/{job_id}/events", headers=api_token(base, other.username))
    assert r.status_code == 404
    assert httpx.get(f"{base}/api/v1/events").status_code == 401


def test_changes_made_by_another_process_reach_the_stream(live_server, user_factory, services):
    """The writer here is a separate set of services with its own engine, as a worker
    process would be: the event travels through the database, not through memory."""
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _new_job(base, h)
    with (
        httpx.Client(timeout=10) as c,
        c.stream("GET", f"{base}/api/v1/jobs/{job_id}/events", headers=h) as r,
    ):
        lines = r.iter_lines()
        sse_events(lines, 1)
        services.tracking.report(user, job_id, Report(status=JobStatus.PROCESSING, progress=33))
        got = sse_events(lines, 1)[0]
        assert got["data"]["progress"] == 33


def test_idle_streams_get_heartbeat_comments(live_server, user_factory, monkeypatch):
    from stagecoach.api import events

    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    base = live_server.url
    h = api_token(base, user_factory("analyst").username)
    with httpx.Client(timeout=10) as c, c.stream("GET", f"{base}/api/v1/events", headers=h) as r:
        for line in r.iter_lines():
            if line.startswith(":"):
                assert line == ": keepalive"
                break


def _stream_ends_within(lines: Any, seconds: float) -> bool:
    """Read the stream until the server ends it; False if it is still open after `seconds`."""
    done = threading.Event()

    def drain() -> None:
        with contextlib.suppress(httpx.HTTPError):
            for _ in lines:
                pass
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    return done.wait(seconds)


def test_revoking_the_token_ends_its_open_streams(live_server, user_factory, services):
    """The stream was authenticated when it opened; revoking the token -- here from another
    process's services, whose token cache the server knows nothing of -- ends it within a few
    seconds, while a stream on another token of the same user stays open."""
    base = live_server.url
    user = user_factory("analyst")
    h, h_kept = api_token(base, user.username), api_token(base, user.username)
    job_id = _new_job(base, h)
    with (
        httpx.Client(timeout=20) as c,
        c.stream("GET", f"{base}/api/v1/jobs/{job_id}/events", headers=h) as r,
        c.stream("GET", f"{base}/api/v1/events", headers=h_kept) as kept,
    ):
        lines = r.iter_lines()
        assert sse_events(lines, 1)[0]["data"]["job_id"] == job_id
        token = h["Authorization"].split(" ", 1)[1]
        found = services.accounts.user_for_token(token)
        assert found is not None
        services.accounts.revoke(found[1])
        assert _stream_ends_within(lines, 8), "the stream outlived its revoked token"
        kept_lines = kept.iter_lines()
        _patch(base, h_kept, job_id, status="processing", progress=12)
        assert sse_events(kept_lines, 1)[0]["data"]["progress"] == 12
