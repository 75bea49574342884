"""The Python client against a real server with its embedded worker: real uploads, real
processing, real HTTP. SQLite only (the client never sees the database). The commands are
tested against a `stagecoach serve` subprocess in tests/cli."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stagecoach.client import Client, StagecoachError
from tests.conftest import PASSWORD

TEXT = "The survey closed in May. Most answers came by mail. " * 40


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text(TEXT)
    return path


def test_the_client_uploads_follows_and_downloads(server, user_factory, notes, tmp_path):
    user = user_factory("analyst")
    seen: list[dict[str, Any]] = []
    with Client.login(server, user.username, PASSWORD) as sc:
        job = sc.upload([notes], case_name="Survey 2026")
        assert job["status"] in ("pending", "processing") and job["case_name"] == "Survey 2026"
        done = sc.wait(job["job_id"], poll_seconds=0.1, timeout=60, on_change=seen.append)
        assert done["status"] == "completed" and done["progress"] == 100
        assert seen[-1] == done
        progress = [d["progress"] for d in seen]
        assert progress == sorted(progress)  # never backwards, as shown to a user
        results = sc.results(done["job_id"])
        assert results, done
        saved = sc.download(done["job_id"], results[0]["name"], tmp_path / "out")
        assert saved.parent == tmp_path / "out" and saved.stat().st_size == results[0]["size"]
        assert not list((tmp_path / "out").glob("*.part"))


def test_the_client_says_what_the_server_refused(server, user_factory, notes):
    with pytest.raises(StagecoachError) as wrong:
        Client.login(server, user_factory("analyst").username, "not the password")
    assert wrong.value.status == 401
    other = user_factory("analyst")
    with Client.login(server, user_factory("analyst").username, PASSWORD) as sc:
        job = sc.upload([notes])
        with Client.login(server, other.username, PASSWORD) as theirs:
            with pytest.raises(StagecoachError) as hidden:
                theirs.status(job["job_id"])  # another analyst's job does not exist for them
            assert hidden.value.status == 404 and "not found" in hidden.value.detail
    with pytest.raises(StagecoachError) as down:
        Client("http://127.0.0.1:9", "x").status("any")
    assert down.value.status == 0 and down.value.title == "Cannot reach the server"


def test_the_async_client_uploads_follows_and_lists(server, user_factory, notes, tmp_path):
    out = tmp_path / "out"
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from stagecoach.client import AsyncClient, NotFound

    user = user_factory("analyst")

    async def go() -> None:
        sent: list[tuple[str, int, int]] = []
        async with await AsyncClient.login(server, user.username, PASSWORD) as sc:
            job = await sc.upload([notes], case_name="Async", on_progress=lambda *a: sent.append(a))
            assert sent[-1] == ("notes.txt", notes.stat().st_size, notes.stat().st_size)
            seen = [doc async for doc in sc.events(job["job_id"])]
            assert seen[-1]["status"] == "completed"
            done = await sc.wait(job["job_id"], poll_seconds=0.1, timeout=60)
            assert done["status"] == "completed"
            assert (await sc.jobs(case_name="Async"))["total"] == 1
            assert (await sc.timeline(job["job_id"]))[0]["kind"] == "created"
            results = await sc.results(job["job_id"])
            saved = await sc.download(job["job_id"], results[0]["name"], out)
            assert saved.read_bytes() == await sc.result_bytes(job["job_id"], results[0]["name"])
            assert [c["case_name"] for c in await sc.cases()] == ["Async"]
            assert (await sc.me())["username"] == user.username
            with pytest.raises(NotFound) as missing:
                await sc.status("no-such-job")
            assert missing.value.problem["status"] == 404

    # A thread of its own: the browser tests' Playwright may hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def test_the_client_follows_events_and_reports_upload_progress(server, user_factory, tmp_path):
    user = user_factory("analyst")
    big = tmp_path / "big.txt"
    big.write_text(TEXT * 40)
    sent: list[int] = []
    with Client.login(server, user.username, PASSWORD) as sc:
        job = sc.upload([big], on_progress=lambda name, done, size: sent.append(done))
        assert sent == sorted(sent) and sent[-1] == big.stat().st_size and len(sent) > 1
        seen = list(sc.events(job["job_id"]))
        assert seen[-1]["status"] == "completed" and seen[-1]["progress"] == 100
        assert sc.me()["username"] == user.username
        sc.logout()
        with pytest.raises(StagecoachError) as revoked:
            sc.me()
        assert revoked.value.status == 401 and type(revoked.value).__name__ == "Unauthorized"
