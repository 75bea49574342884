"""The real web page in headless Chromium: live progress, refresh, visibility, failure + retry,
and the whole upload-to-download path (once uploads and the worker are in)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot, sign_in_page
from tests.web.conftest import api_token

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _patch(base: str, h: dict[str, str], job_id: str, **body: object) -> None:
    r = httpx.patch(f"{base}/api/v1/jobs/{job_id}", json=body, headers=h)
    assert r.status_code == 200, r.text


def _job(base: str, h: dict[str, str], **body: object) -> str:
    body.setdefault("stages", ["Uploading", "Transcribing", "Analyzing"])
    r = httpx.post(f"{base}/api/v1/jobs", json=body, headers=h)
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def _overall(page) -> float:
    return float(page.get_attribute("#job-panel .overview [role=progressbar]", "aria-valuenow"))


def _bar_reaches(page, value: int, selector: str = "#job-panel .overview [role=progressbar]"):
    page.wait_for_function(
        "([sel, v]) => { const b = document.querySelector(sel);"
        " return b && parseFloat(b.getAttribute('aria-valuenow')) >= v; }",
        arg=[selector, value],
    )


def test_progress_moves_live_survives_refresh_and_completes(
    live_server, new_page, user_factory, file_factory
):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    fids = [
        file_factory(user, name="session-1.wav"),
        file_factory(user, name="notes.pdf", type_="document"),
    ]
    job_id = _job(
        base,
        h,
        pipeline="audio",
        case_name="Coaching week 3",
        related_file_ids=fids,
        duration_total=3600,
    )
    other_job = _job(base, h, pipeline="audio", case_name="Coaching week 3")

    page = new_page()
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    polling = new_page()  # a second browser where EventSource is unavailable: it polls
    polling.add_init_script("window.STAGECOACH_NO_SSE = true;")
    sign_in_page(polling, base, user.username, PASSWORD)
    polling.goto(f"{base}/jobs/{job_id}")
    polling.wait_for_selector("[data-live-mode]:has-text('checking every')")

    _patch(base, h, job_id, status="processing", current_stage="Uploading", progress=5)
    _patch(base, h, job_id, current_stage="Transcribing", progress=20)
    _bar_reaches(page, 20)
    _patch(base, h, job_id, progress=40, duration_processed=1440)
    _bar_reaches(page, 40)
    assert page.text_content("#job-panel .overview [data-field=percent]") == "40%"
    assert "Processing" in page.text_content("#job-panel .overview [data-field=badge]")
    _bar_reaches(polling, 40)
    screenshot(page, "job-page-processing")

    page.reload()  # a refreshed page shows the same progress at once, server-rendered
    assert _overall(page) == 40
    assert page.text_content("#job-panel .overview [data-field=percent]") == "40%"

    third_job = _job(base, h, pipeline="document", case_name="Coaching week 4")
    for j in (other_job, third_job):
        _patch(base, h, j, status="processing", current_stage="Transcribing", progress=15)
    dash = new_page()
    sign_in_page(dash, base, user.username, PASSWORD)
    dash.wait_for_selector("[data-live-mode]:has-text('live')")
    # three jobs running at once, each bar on its own (seed 001, Example 6)
    targets = {job_id: 45, other_job: 33, third_job: 71}
    _patch(base, h, other_job, progress=33)
    _patch(base, h, third_job, progress=71)
    _patch(base, h, job_id, progress=45)
    for j, value in targets.items():
        _bar_reaches(dash, value, f".job-row[data-job-id='{j}'] [role=progressbar]")
    for j, value in targets.items():
        shown = dash.text_content(f".job-row[data-job-id='{j}'] [data-field=percent]")
        assert shown == f"{value}%"
    screenshot(dash, "dashboard")

    _patch(base, h, job_id, current_stage="Analyzing", progress=92)
    page.wait_for_selector("#job-panel .eta:has-text('Almost done')")
    _patch(base, h, job_id, status="completed", progress=100)
    page.wait_for_selector("#job-panel:has-text('Transcription complete!')")
    _bar_reaches(page, 100)
    assert page.text_content("#job-panel .overview [data-field=percent]") == "100%"
    assert "Completed" in page.text_content("#job-panel .overview [data-field=badge]")
    assert page.locator(".stepper .step.done").count() == 3
    polling.wait_for_selector("#job-panel:has-text('Transcription complete!')")
    screenshot(page, "job-page-completed")


def test_another_analysts_job_is_not_reachable(live_server, new_page, user_factory):
    base = live_server.url
    owner, other = user_factory("analyst"), user_factory("analyst")
    job_id = _job(base, api_token(base, owner.username), case_name="Private")
    page = new_page()
    sign_in_page(page, base, other.username, PASSWORD)
    response = page.goto(f"{base}/jobs/{job_id}")
    assert response is not None and response.status == 404
    assert "Private" not in page.content()


def test_failed_job_shows_cause_and_retry_works(live_server, new_page, user_factory):
    base = live_server.url
    user = user_factory("analyst")
    h = api_token(base, user.username)
    job_id = _job(base, h, pipeline="audio")
    page = new_page()
    sign_in_page(page, base, user.username, PASSWORD)
    page.goto(f"{base}/jobs/{job_id}")
    page.wait_for_selector("[data-live-mode]:has-text('live')")
    _patch(base, h, job_id, status="processing", current_stage="Transcribing", progress=35)
    _bar_reaches(page, 35)
    _patch(
        base,
        h,
        job_id,
        status="failed",
        error={
            "code": "engine_unavailable",
            "category": "dependency",
            "retryable": True,
            "message": "The speech engine stopped responding.",
            "hint": "Retry in a few minutes; your file is fine.",
        },
    )
    page.wait_for_selector(".failure:has-text('The speech engine stopped responding.')")
    assert "Retry in a few minutes" in page.text_content(".failure")
    assert _overall(page) == 35
    assert page.locator(".failure a:has-text('Upload new file')").count() == 1
    assert page.locator(".failure a[href='/help#failed']").count() == 1
    screenshot(page, "job-page-failed")
    page.click("button[data-action=retry]")
    page.wait_for_selector("#job-panel .overview [data-field=badge]:has-text('Waiting')")
    assert httpx.get(f"{base}/api/v1/jobs/{job_id}", headers=h).json()["status"] == "pending"


def _upload_and_worker_available(app) -> str | None:
    if "/api/v1/upload" not in app.openapi()["paths"]:
        return "POST /api/v1/upload is not in this build yet (uploads issue)"
    return None


def test_upload_two_files_watch_both_bars_and_download(
    settings, live_services, new_page, user_factory, tmp_path
):
    from stagecoach.app import create_app
    from tests.web.live_server import LiveServer

    app = create_app(settings, services=live_services, embedded_worker=True)
    why = _upload_and_worker_available(app)
    if why:
        pytest.skip(why)
    files = []
    for i in (1, 2):
        path = tmp_path / f"survey-{i}.csv"
        path.write_text("name,score\n" + "".join(f"p{k},{k * i}\n" for k in range(200)))
        files.append(str(path))
    user = user_factory("analyst")
    with LiveServer(app) as server:
        base = server.url
        page = new_page(accept_downloads=True)
        sign_in_page(page, base, user.username, PASSWORD)
        page.goto(f"{base}/upload")
        page.set_input_files("#file-input", files)
        assert page.locator("#file-list li").count() == 2
        page.fill("#case-name", "Survey <b>wave</b> 2")
        page.click("#upload-button")
        page.wait_for_url(f"{base}/jobs/*", timeout=30_000)
        rows = page.locator(".artifact")
        assert rows.count() == 2
        page.wait_for_function(  # the embedded worker picks it up
            "() => [...document.querySelectorAll('.artifact [role=progressbar]')]"
            ".some(b => parseFloat(b.getAttribute('aria-valuenow')) > 0 ||"
            " document.querySelector('#job-panel').dataset.status !== 'pending')",
            timeout=20_000,
        )
        page.wait_for_function(
            "() => { const bars = [...document.querySelectorAll('.artifact [role=progressbar]')];"
            " return bars.length === 2 && bars.every("
            "b => parseFloat(b.getAttribute('aria-valuenow')) >= 100); }",
            timeout=120_000,
        )
        page.wait_for_selector("#job-panel[data-status=completed]", timeout=60_000)
        link = page.locator(".downloads a.button").first
        link.wait_for(timeout=15_000)
        with page.expect_download() as download:
            link.click()
        assert download.value.path().stat().st_size > 0
        screenshot(page, "job-page-upload-completed")


def test_api_docs_render_offline(live_server, new_page):
    """/docs draws the API's operations with every request to another host refused."""
    base = live_server.url
    page = new_page()
    elsewhere: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/v1/jobs/{job_id}/status']")
    assert page.locator(".opblock").count() > 10
    assert elsewhere == []
