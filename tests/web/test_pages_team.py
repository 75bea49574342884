"""The pages over HTTP, second round: the manager's owner column, filter and team summary,
Process again for a cancelled job, restarts explained, waiting jobs, result download names."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from stagecoach.domain.filenames import download_name
from stagecoach.services.tracking import NewJob
from stagecoach.store import files as files_store
from stagecoach.web import views
from tests.web.conftest import csrf_of


def _stored_file(services, owner, name="talk.wav") -> str:
    file_id = str(uuid.uuid4())
    with services.ctx.db.write() as conn:
        files_store.insert_file(
            conn,
            file_id=file_id,
            owner_id=owner.user_id,
            original_name=name,
            stored_path=f"uploads/{file_id}",
            type="other",
            mime="application/octet-stream",
            size=10,
            upload_time=datetime.now(UTC),
            status="stored",
        )
    return file_id


def _row(html: str, job_id: str) -> str:
    found = re.search(rf'<tr class="job-row" data-job-id="{job_id}".*?</tr>', html, re.S)
    assert found, f"no row for {job_id}"
    return found.group(0)


def test_manager_sees_owners_filters_by_owner_and_a_team_summary(
    client, user_factory, sign_in, login, job_factory
):
    boss = user_factory("manager")
    ana = user_factory("analyst", manager=boss.username)
    ben = user_factory("analyst", manager=boss.username)
    outsider = user_factory("analyst")
    ana_job = job_factory(login(ana.username))["job_id"]
    ben_h = login(ben.username)
    ben_job = job_factory(ben_h)["job_id"]
    client.patch(f"/api/v1/jobs/{ben_job}", headers=ben_h, json={"status": "processing"})
    client.patch(f"/api/v1/jobs/{ben_job}", headers=ben_h, json={"status": "failed"})
    job_factory(login(outsider.username))
    sign_in(boss.username)
    html = client.get("/").text
    assert f">{ana.username}</td>" in _row(html, ana_job)
    assert f">{ben.username}</td>" in _row(html, ben_job)
    assert outsider.username not in html  # not in the team: neither a row nor an option
    team = re.search(r'<section class="card team".*?</section>', html, re.S)
    assert team
    ana_line = re.search(
        rf">{ana.username}</a>\s*<span[^>]*>(.*?)</span></li>", team.group(0), re.S
    )
    ben_line = re.search(
        rf">{ben.username}</a>\s*<span[^>]*>(.*?)</span></li>", team.group(0), re.S
    )
    assert ana_line and "1 running" in ana_line.group(1) and ">0 failed today" in ana_line.group(1)
    assert ben_line and "0 running" in ben_line.group(1) and ">1 failed today" in ben_line.group(1)
    only_ben = client.get("/", params={"owner": ben.username}).text
    assert ben_job in only_ben and ana_job not in only_ben
    # an owner outside the team filters nothing (and shows nothing of theirs)
    assert ana_job in client.get("/", params={"owner": outsider.username}).text


def test_an_analyst_has_no_owner_column_nor_team(client, user_factory, sign_in, login, job_factory):
    ana = user_factory("analyst")
    job_id = job_factory(login(ana.username))["job_id"]
    sign_in(ana.username)
    html = client.get("/").text
    assert 'data-label="Owner"' not in _row(html, job_id)
    assert 'class="card team"' not in html and "owner-filter" not in html


def test_a_cancelled_job_can_be_processed_again_from_its_stored_files(
    client, user_factory, sign_in, services
):
    ana = user_factory("analyst")
    files = [_stored_file(services, ana, "a.wav"), _stored_file(services, ana, "b.wav")]
    old = services.tracking.create_job(
        ana,
        NewJob(
            related_file_ids=files,
            pipeline="checksum",
            stages=["Uploading", "Checksumming"],
            case_name="Week 2",
            claimable=True,
        ),
    )["job_id"]
    services.tracking.cancel(ana, old)
    sign_in(ana.username)
    page = client.get(f"/jobs/{old}").text
    assert 'data-action="again"' in page
    refused = client.post(f"/jobs/{old}/again", data={}, follow_redirects=False)
    assert refused.status_code == 403
    r = client.post(
        f"/jobs/{old}/again", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert r.status_code == 303
    new = r.headers["location"].rsplit("/", 1)[1]
    assert new != old
    doc = services.tracking.status(ana, new)
    assert doc["status"] == "pending" and doc["parent_job_id"] == old
    assert doc["case_name"] == "Week 2" and doc["pipeline"] == "checksum"
    assert [a["file_id"] for a in doc["artifacts"]] == files
    # only cancelled jobs: the new one is pending
    again = client.post(
        f"/jobs/{new}/again", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert again.status_code == 409 and "only cancelled jobs" in again.text


def test_a_later_attempt_says_when_it_resumed(client, user_factory, sign_in, login, job_factory):
    ana = user_factory("analyst")
    h = login(ana.username)
    job_id = job_factory(h)["job_id"]
    for body in (
        {"status": "processing", "progress": 40},
        {"status": "failed", "error": {"message": "busy", "retryable": True}},
    ):
        assert client.patch(f"/api/v1/jobs/{job_id}", headers=h, json=body).status_code == 200
    sign_in(ana.username)
    assert 'data-field="restart"' not in client.get(f"/jobs/{job_id}").text
    client.post(f"/api/v1/jobs/{job_id}/retry", headers=h)
    assert "Waiting to resume (attempt 2 of" in client.get(f"/jobs/{job_id}").text
    client.patch(f"/api/v1/jobs/{job_id}", headers=h, json={"status": "processing", "seq": 9})
    html = client.get(f"/jobs/{job_id}").text
    assert re.search(r"Processing resumed at <time datetime=\"[^\"]+Z\"", html)
    assert "(attempt 2 of 3)" in html


def test_times_are_marked_for_local_display_with_utc_on_hover(
    client, user_factory, sign_in, login, job_factory
):
    ana = user_factory("analyst")
    job_id = job_factory(login(ana.username))["job_id"]
    sign_in(ana.username)
    html = client.get(f"/jobs/{job_id}").text
    stamps = re.findall(r'<time datetime="([^"]+)" data-local[^>]* title="([^"]+)"', html)
    assert stamps and all(iso.endswith("Z") and title.endswith(" UTC") for iso, title in stamps)


def test_estimating_and_jobs_ahead_in_the_views():
    doc = {"status": "pending", "queue_position": 3, "eta_confidence": "estimating"}
    assert views.estimating(doc) and views.jobs_ahead(doc) == 2
    assert views.jobs_ahead({"status": "pending", "queue_position": 1}) == 0
    assert not views.estimating({"status": "processing"})  # absent: a number may show


def test_partial_outcome_and_file_counts_tolerate_documents_without_them():
    arts = [{"status": "completed"}, {"status": "failed"}, {"status": "completed"}]
    older = {"status": "completed", "artifacts": arts}
    assert views.file_counts(older) == {"total": 3, "done": 2, "failed": 1}
    assert views.outcome(older) == "partial"
    newer = {**older, "outcome": "complete", "files_total": 3, "files_done": 3, "files_failed": 0}
    assert views.outcome(newer) == "complete" and views.file_counts(newer)["done"] == 3
    assert views.outcome({"status": "failed", "artifacts": arts}) is None


def test_elapsed_and_case_totals():
    t0 = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)
    doc = {"status": "processing", "started_at": "2026-01-09T10:00:00.000Z", "finished_at": None}
    assert views.elapsed(doc, t0 + timedelta(seconds=250)) == "4m 10s"
    assert views.elapsed({"status": "pending", "started_at": None}, t0) == "—"
    jobs = [{"status": "completed", "artifacts": [{"status": "completed"}, {"status": "failed"}]}]
    assert views.case_totals(jobs * 2) == {"files": 4, "done": 2, "failed": 2}


def test_result_download_names_carry_the_recordings_name():
    assert download_name("Session 3.mp3", "transcript.txt") == "Session 3 - transcript.txt"
    assert download_name("good-1.txt", "good-1.summary.txt") == "good-1.summary.txt"
    assert download_name('a"b\\c/..\x07.wav', "t.srt") == ".. - t.srt"
    assert download_name(None, "profile.json") == "profile.json"
