"""GET /api/v1/cases and /cases/{name}/jobs: visibility is exactly that of jobs."""

from __future__ import annotations

from tests.samples import pdf_bytes
from tests.uploads_helpers import run_files, upload


def test_cases_are_seen_like_jobs(client, user_factory, login):
    boss = user_factory("manager")
    mine = user_factory("analyst", manager=boss.username)
    other = user_factory("analyst")
    hm_, ho = login(mine.username), login(other.username)
    j1 = upload(client, hm_, [("a.pdf", pdf_bytes(1))], case_name="Shared name").json()
    upload(
        client, hm_, [("b.pdf", pdf_bytes(1))], case_name="Team case", parent_job_id=j1["job_id"]
    )
    upload(client, ho, [("c.pdf", pdf_bytes(1))], case_name="Shared name")
    upload(client, ho, [("d.pdf", pdf_bytes(1))], case_name="Secret case")
    upload(client, ho, [("e.pdf", pdf_bytes(1))])  # no case: listed nowhere

    def names(h):  # type: ignore[no-untyped-def]
        return {
            c["case_name"]: c["job_count"]
            for c in client.get("/api/v1/cases", headers=h).json()["cases"]
        }

    assert names(hm_) == {"Shared name": 1, "Team case": 1}
    assert names(ho) == {"Shared name": 1, "Secret case": 1}
    hb = login(boss.username)
    assert names(hb) == {"Shared name": 1, "Team case": 1}
    assert client.get("/api/v1/cases/Secret case/jobs", headers=hm_).status_code == 404
    assert client.get("/api/v1/cases/Secret case/jobs", headers=hb).status_code == 404
    r = client.get("/api/v1/cases/Team case/jobs", headers=hb)
    assert r.status_code == 200
    assert r.json()["jobs"][0]["parent_job_id"] == j1["job_id"]
    shared = client.get("/api/v1/cases/Shared name/jobs", headers=ho).json()["jobs"]
    assert len(shared) == 1 and shared[0]["job_id"] != j1["job_id"]
    ha = login("admin", "admin-password")
    assert names(ha) == {"Shared name": 2, "Team case": 1, "Secret case": 1}


def test_case_names_with_slashes_and_completed_jobs(client, analyst, services):
    user, h = analyst
    doc = upload(client, h, [("a.pdf", pdf_bytes(1))], case_name="2026/Q1 audit").json()
    run_files(services, doc["job_id"])
    r = client.get("/api/v1/cases/2026/Q1 audit/jobs", headers=h)
    assert r.status_code == 200
    (job,) = r.json()["jobs"]
    assert job["status"] == "completed" and job["completed_at"].endswith("Z")
    assert client.get("/api/v1/cases", headers=h).json()["cases"][0]["case_name"] == "2026/Q1 audit"
