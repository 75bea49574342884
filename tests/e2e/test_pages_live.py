"""The pages, second round, in headless Chromium: the dropped and restored live stream,
partial results, the transcript preview, the manager's owner column, phones, cancel, the
live cases page, and axe-core with 0 violations on every page state visited."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from stagecoach.app import create_app
from stagecoach.domain.job_update import Report
from stagecoach.domain.records import User
from stagecoach.domain.status import JobStatus
from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.services.tracking import NewJob
from stagecoach.store import files as files_store
from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    PHONE,
    assert_accessible,
    horizontal_overflow,
    screenshot,
    sign_in_page,
)
from tests.e2e.pipelines import PARAGRAPHS, PIPELINES
from tests.web.conftest import api_token
from tests.web.live_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _job(base: str, h: dict[str, str], **body: object) -> str:
    body.setdefault("stages", ["Uploading", "Transcribing", "Analyzing"])
    r = httpx.post(f"{base}/api/v1/jobs", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def _patch(base: str, h: dict[str, str], job_id: str, **body: object) -> None:
    r = httpx.patch(f"{base}/api/v1/jobs/{job_id}", json=body, headers=h)
    assert r.status_code == 200, r.text


def _bar_reaches(page: Any, value: float, selector: str) -> None:
    page.wait_for_function(
        "([sel, v]) => { const b = document.querySelector(sel);"
        " return b && parseFloat(b.getAttribute('aria-valuenow')) >= v; }",
        arg=[selector, value],
    )


OVERALL = "#job-panel .overview [role=progressbar]"


@pytest.fixture
def worker_server(settings: Any, live_services: Services) -> Iterator[LiveServer]:
    """A real server with an embedded worker running the page tests' small pipelines."""
    app = create_app(settings, services=live_services, embedded_worker=True, pipelines=PIPELINES)
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def worker_job(live_services: Services) -> Callable[..., str]:
    """A job over stored files, for the embedded worker to run."""

    def make(owner: User, pipeline: str, names: list[str], case_name: str | None = None) -> str:
        file_ids = []
        for name in names:
            file_id = str(uuid.uuid4())
            key = f"uploads/{file_id}"
            with live_services.storage.open_write(key) as f:
                f.write(b"some content\n" * 20)
            with live_services.ctx.db.write() as conn:
                files_store.insert_file(
                    conn,
                    file_id=file_id,
                    owner_id=owner.user_id,
                    original_name=name,
                    stored_path=key,
                    type="other",
                    mime="application/octet-stream",
                    size=260,
                    upload_time=datetime.now(UTC),
                    status="stored",
                )
            file_ids.append(file_id)
        doc = live_services.tracking.create_job(
            owner,
            NewJob(
                related_file_ids=file_ids, pipeline=pipeline, claimable=True, case_name=case_name
            ),
        )
        return str(doc["job_id"])

    return make


def test_connection_drop_is_shown_and_the_page_reconnects_when_the_server_returns(
    settings, live_services, new_page, user_factory
):
    app = create_app(settings, services=live_services)
    first = LiveServer(app)
    port, base = first.port, first.url
    user = user_factory("analyst")
    with first:
        h = api_token(base, user.username)
        job_id = _job(base, h, duration_total=600)
        _patch(base, h, job_id, status="processing", current_stage="Transcribing", progress=20)
        page = new_page(bypass_csp=True)
        sign_in_page(page, base, user.username, PASSWORD)
        page.goto(f"{base}/jobs/{job_id}")
        page.wait_for_selector("[data-live-mode]:has-text('live')")
        assert page.text_content("#connection") == ""
    # the server stops: the page says so at once, and greys out the time left
    page.wait_for_selector("#connection:has-text('Connection lost')", timeout=10_000)
    assert "retrying" in page.text_content("#connection")
    assert page.get_attribute("#connection", "role") == "status"
    assert page.evaluate("() => document.body.classList.contains('stale')")
    page.wait_for_selector("#connection:has-text('last update')")
    assert_accessible(page, "job page, connection lost")
    screenshot(page, "job-page-connection-lost")
    # the job moves on while the page cannot hear it
    live_services.tracking.report(
        user, job_id, Report(status=JobStatus.PROCESSING, current_stage="Analyzing", progress=70)
    )
    back = Services(ServiceContext.from_settings(settings))
    try:
        with LiveServer(create_app(settings, services=back), port=port):
            # backoff: the page retries by itself, replays what it missed, refreshes the panel
            page.wait_for_function(
                "() => document.getElementById('connection').textContent === ''", timeout=40_000
            )
            _bar_reaches(page, 70, OVERALL)
            page.wait_for_selector("#job-panel [data-field=stage]:has-text('Analyzing')")
            assert not page.evaluate("() => document.body.classList.contains('stale')")
            page.wait_for_selector("[data-live-mode]:has-text('live')")
            # and it is live again, not polling
            _patch(base, h, job_id, progress=80)
            _bar_reaches(page, 80, OVERALL)
    finally:
        back.ctx.db.dispose()


def test_a_revoked_session_stops_live_updates_and_says_to_sign_in(
    live_server, live_services, new_page, user_factory
):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _job(base, h)
    page = new_page(bypass_csp=True)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "stagecoach_session")
    found = live_services.accounts.user_for_token(session)
    assert found is not None
    live_services.accounts.revoke(found[1])
    page.wait_for_selector("#connection a:has-text('Sign in again')", timeout=15_000)


def test_partial_job_offers_each_finished_file_its_downloads(
    worker_server, worker_job, new_page, user_factory
):
    base = worker_server.url
    user = user_factory("analyst")
    job_id = worker_job(user, "picky", ["good-1.txt", "bad.txt", "good-2.txt"])
    page = new_page(bypass_csp=True, accept_downloads=True)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_function(
        "() => ['completed', 'failed']"
        ".includes(document.getElementById('job-panel').dataset.status)",
        timeout=60_000,
    )
    # every finished file row has its own downloads, whatever the job's outcome
    for name in ("good-1", "good-2"):
        row = page.locator(f".artifact:has(.artifact-name:text-is('{name}.txt'))")
        link = row.locator(".downloads a.button")
        assert link.count() == 1
        # the result's name already carries the file's, so it is not said twice
        assert link.get_attribute("download") == f"{name}.summary.txt"
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == f"{name}.summary.txt"
        assert download.value.path().read_text() == "ok\n"
    bad = page.locator(".artifact:has(.artifact-name:text-is('bad.txt'))")
    assert bad.locator(".downloads").count() == 0
    assert "The file is corrupt." in bad.text_content()
    assert_accessible(page, "job page, one file of three failed")
    screenshot(page, "job-page-partial")
    # two of three files done: the job completed, partially
    page.wait_for_selector("#job-panel[data-status=completed]", timeout=30_000)
    card = page.locator("[data-outcome=partial]")
    assert "2 of 3 files done" in card.text_content() and "bad.txt" in card.text_content()
    assert "status-partial" in page.get_attribute(
        "#job-panel .overview [data-field=badge]", "class"
    )
    assert page.locator(".card.failure").count() == 0  # amber, not red


def test_transcript_preview_show_all_copy_and_named_downloads(
    worker_server, worker_job, new_page, user_factory
):
    base = worker_server.url
    user = user_factory("analyst")
    job_id = worker_job(user, "fake-audio", ["Session 3.wav"])
    page = new_page(bypass_csp=True, accept_downloads=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_selector("#job-panel[data-status=completed]", timeout=60_000)
    preview = page.locator("[data-field=transcript-text]")
    preview.wait_for()
    shown = preview.locator("p")
    assert 1 <= shown.count() < len(PARAGRAPHS)
    assert shown.first.text_content().startswith("Paragraph 1:")
    # no stale stage after completion
    assert page.locator("#job-panel .overview [data-field=stage]").count() == 0
    assert "Stage:" not in page.text_content("#job-panel .overview")
    assert_accessible(page, "completed job, transcript preview")
    page.click("[data-action=show-all]")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-field=transcript-text] p').length === n",
        arg=len(PARAGRAPHS),
    )
    page.click("[data-action=copy]")
    page.wait_for_selector("[data-field=copy-note]:has-text('Copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("Paragraph 1:") and "Paragraph 12:" in copied
    # one primary button, the other formats behind it; names carry the recording's
    primary = page.locator(".success .downloads > a.button")
    assert primary.count() == 1 and primary.text_content().strip() == "Download transcript"
    with page.expect_download() as download:
        primary.click()
    assert download.value.suggested_filename == "Session 3 - transcript.txt"
    others = page.locator(".success .more-formats a")
    assert not others.first.is_visible()
    page.click(".success .more-formats summary")
    assert others.count() == 2 and others.first.is_visible()
    assert {others.nth(i).get_attribute("download") for i in range(2)} == {
        "Session 3 - transcript.srt",
        "Session 3 - transcript.vtt",
    }
    assert_accessible(page, "completed job, other formats open")
    screenshot(page, "job-page-transcript")


def test_manager_sees_each_jobs_owner_and_filters_by_owner(live_server, new_page, user_factory):
    base = live_server.url
    boss = user_factory("manager")
    ana = user_factory("analyst", manager=boss.username)
    ben = user_factory("analyst", manager=boss.username)
    ana_job = _job(base, api_token(base, ana.username), case_name="Ana's case")
    ben_h = api_token(base, ben.username)
    ben_job = _job(base, ben_h, case_name="Ben's case")
    _patch(base, ben_h, ben_job, status="processing", progress=10)
    page = new_page(bypass_csp=True)
    sign_in_page(page, base, boss.username, PASSWORD)
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    owner_of = {
        j: page.text_content(f".job-row[data-job-id='{j}'] td[data-label=Owner]").strip()
        for j in (ana_job, ben_job)
    }
    assert owner_of == {ana_job: ana.username, ben_job: ben.username}
    team = page.text_content(".team")
    assert ana.username in team and ben.username in team and "failed today" in team
    assert_accessible(page, "manager's dashboard")
    page.select_option("#owner-filter", ben.username)  # applies without a button
    page.wait_for_url(f"**/?owner={ben.username}")
    assert page.locator(".job-row").count() == 1
    assert page.locator(f".job-row[data-job-id='{ben_job}']").count() == 1
    # status tabs carry live counts
    processing = page.locator("[data-count=processing]")
    before = int(processing.text_content())
    _patch(base, ben_h, ben_job, status="completed", progress=100)
    page.wait_for_function(
        "n => parseInt(document.querySelector('[data-count=processing]').textContent) === n",
        arg=before - 1,
    )
    page.wait_for_selector("#announcer:has-text('Completed')")
    assert_accessible(page, "manager's dashboard filtered by owner")
    screenshot(page, "dashboard-manager")


def test_cancel_asks_first_and_the_cancelled_job_is_neutral(live_server, new_page, user_factory):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _job(base, h)
    _patch(base, h, job_id, status="processing", progress=30)
    page = new_page(bypass_csp=True)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("button[data-action=cancel]")
    assert asked and "Cancel processing" in asked[0]
    assert httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=h).json()["status"] == "processing"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=cancel]")
    page.wait_for_selector("#job-panel[data-status=cancelled]")
    assert httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=h).json()["status"] == "cancelled"
    assert page.locator(".card.neutral").count() == 1
    assert page.locator(".card.failure, [role=alert]").count() == 0
    assert_accessible(page, "cancelled job")


def test_cases_page_updates_live_with_totals(live_server, new_page, user_factory):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _job(base, h, case_name="Week 9")
    page = new_page(bypass_csp=True)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/cases")
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    assert "0 done" in page.text_content(".case-totals")
    _patch(base, h, job_id, status="processing", progress=45)
    _bar_reaches(page, 45, f".job-row[data-job-id='{job_id}'] [role=progressbar]")
    _patch(base, h, job_id, status="failed", error={"message": "It broke.", "retryable": False})
    page.wait_for_selector(
        f".job-row[data-job-id='{job_id}'] [data-field=badge]:has-text('Failed')"
    )
    second = _job(base, h, case_name="Week 9")  # a new job in the case appears by itself
    page.wait_for_selector(f".job-row[data-job-id='{second}']")
    assert_accessible(page, "cases page")


def test_no_page_scrolls_sideways_on_a_phone_and_axe_finds_nothing(
    live_server, new_page, user_factory, file_factory, tmp_path
):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    long = "a-very-long-recording-name-without-any-spaces-at-all-2026-11-30-session-final.wav"
    fids = [file_factory(user, name=long), file_factory(user, name="notes.pdf", type_="document")]
    running = _job(
        base, h, case_name="Case with a rather long name, week 12", related_file_ids=fids
    )
    _patch(base, h, running, status="processing", current_stage="Transcribing", progress=40)
    failed = _job(base, h, case_name="Case with a rather long name, week 12")
    _patch(base, h, failed, status="processing", progress=10)
    _patch(
        base,
        h,
        failed,
        status="failed",
        error={"message": "The speech engine stopped.", "hint": "Retry.", "retryable": True},
    )
    waiting = _job(base, h)
    page = new_page(bypass_csp=True, viewport=PHONE, is_mobile=True, has_touch=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, "login, phone")
    sign_in_page(page, base, user.username, PASSWORD)
    pages = {
        "dashboard": "/",
        "job processing": f"/jobs/{running}",
        "job failed": f"/jobs/{failed}",
        "job waiting": f"/jobs/{waiting}",
        "cases": "/cases",
        "help": "/help",
        "upload": "/upload",
    }
    for state, path in pages.items():
        page.goto(base + path)
        assert horizontal_overflow(page) <= 0, f"{state} scrolls sideways at 390 px"
        size = page.evaluate("() => document.documentElement.outerHTML.length")
        assert size < 17_000, f"{state}: {size} characters of HTML"  # before axe is injected
        assert_accessible(page, f"{state}, phone")
    # upload with chosen files: each name on its own line
    one = tmp_path / long.replace(".wav", ".csv")
    one.write_text("a,b\n1,2\n")
    page.set_input_files("#file-input", [str(one)])
    name_box = page.locator("#file-list .name").bounding_box()
    assert name_box is not None and name_box["width"] > 250
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, "upload with a file chosen, phone")
    assert errors == []
    screenshot(page, "upload-phone")
    # the desktop states too, with the skip link first in the tab order
    desk = new_page(bypass_csp=True)
    sign_in_page(desk, base, user.username, PASSWORD)
    for state, path in pages.items():
        desk.goto(base + path)
        assert_accessible(desk, state)
    desk.keyboard.press("Tab")
    assert desk.evaluate("() => document.activeElement.className") == "skip-link"


def test_a_refused_file_is_marked_on_its_row_and_the_rest_can_be_sent(
    live_server, new_page, user_factory, tmp_path
):
    base = live_server.url
    user = user_factory("analyst")
    good = tmp_path / "scores.csv"
    good.write_text("name,score\n" + "".join(f"p{k},{k}\n" for k in range(50)))
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"\x89\x12 not a pdf at all" * 500)
    page = new_page(bypass_csp=True)
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/upload")
    page.set_input_files("#file-input", [str(good), str(bad)])
    page.click("#upload-button")
    refused = page.locator("#file-list li.refused")
    refused.wait_for()
    assert refused.count() == 1 and "broken.pdf" in refused.text_content()
    assert "Refused:" in refused.text_content()
    assert_accessible(page, "upload with a refused file")
    refused.locator("button:has-text('Remove')").click()
    assert page.locator("#file-list li").count() == 1
    page.click("#upload-button")
    page.wait_for_url(f"{base}/jobs/*", timeout=30_000)
