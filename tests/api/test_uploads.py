"""POST /api/v1/upload: multi-file uploads, cases, media facts (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

from tests.samples import csv_bytes, pdf_bytes, wav_bytes
from tests.uploads_helpers import blobs, file_rows, job_row, upload


def test_multi_file_upload_with_a_case(client, analyst, services):
    _, h = analyst
    wav, pdf, csv = wav_bytes(2.5), pdf_bytes(3), csv_bytes(12)
    r = upload(
        client,
        h,
        [("interview.wav", wav), ("report.pdf", pdf), ("table.csv", csv)],
        case_name="Operation Phoenix",
    )
    assert r.status_code == 202, r.text
    doc = r.json()
    assert r.headers["location"] == doc["links"]["status"] == f"/api/v1/jobs/{doc['job_id']}/status"
    assert doc["status"] == "pending" and doc["current_stage"] == "Uploading"
    assert doc["case_name"] == "Operation Phoenix"
    # each file goes through the pipeline of its own kind; the job has several
    assert doc["pipeline"] is None
    arts = doc["artifacts"]
    assert [a["pipeline"] for a in arts] == ["audio", "document", "dataset"]
    assert arts[0]["stages"] == ["Decoding", "Transcribing", "Analyzing"]
    assert doc["stages"][:4] == ["Uploading", "Decoding", "Transcribing", "Analyzing"]
    assert set(arts[1]["stages"]) <= set(doc["stages"]) and set(arts[2]["stages"]) <= set(
        doc["stages"]
    )
    # the job's unit is its first file's; its total counts the files measured in it
    assert doc["unit"] == "audio_seconds" and doc["duration_total"] == 2.5
    assert doc["files_total"] == 3 and doc["files_done"] == 0 and doc["outcome"] is None
    assert [a["filename"] for a in arts] == ["interview.wav", "report.pdf", "table.csv"]
    assert [a["file_type"] for a in arts] == ["audio", "document", "dataset"]
    assert all(a["status"] == "pending" for a in arts)
    assert job_row(services, doc["job_id"])["claimable"] is True

    by_name = {f["original_name"]: f for f in file_rows(services)}
    for name, data, ftype, mime in [
        ("interview.wav", wav, "audio", "audio/wav"),
        ("report.pdf", pdf, "document", "application/pdf"),
        ("table.csv", csv, "dataset", "text/csv"),
    ]:
        f = by_name[name]
        assert (f["type"], f["mime"], f["size"]) == (ftype, mime, len(data))
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        assert f["status"] == "stored" and f["upload_time"] is not None
        assert name not in f["stored_path"] and f["stored_path"].endswith(f["file_id"])
    assert by_name["interview.wav"]["duration_seconds"] == 2.5
    assert by_name["report.pdf"]["page_count"] == 3
    assert by_name["table.csv"]["row_count"] == 12
    assert len(blobs(services)) == 3

    meta = client.get(f"/api/v1/files/{arts[1]['file_id']}", headers=h).json()
    assert meta["page_count"] == 3 and meta["type"] == "document"
    assert meta["job_ids"] == [doc["job_id"]]
    timeline = client.get(f"/api/v1/jobs/{doc['job_id']}/timeline", headers=h).json()["entries"]
    assert [e["kind"] for e in timeline] == ["created", "uploaded"]


def test_pipeline_by_type_and_by_choice(client, analyst):
    _, h = analyst
    doc = upload(client, h, [("a.pdf", pdf_bytes(4))]).json()
    assert (doc["pipeline"], doc["unit"], doc["duration_total"]) == ("document", "pages", 4)
    assert doc["stages"] == ["Uploading", "Extracting", "Summarizing"]
    doc = upload(client, h, [("t.csv", csv_bytes(30))]).json()
    assert (doc["pipeline"], doc["unit"], doc["duration_total"]) == ("dataset", "rows", 30)
    data = csv_bytes(5)
    doc = upload(client, h, [("t.csv", data)], pipeline="checksum").json()
    assert (doc["pipeline"], doc["unit"], doc["duration_total"]) == ("checksum", "bytes", len(data))
    assert doc["stages"] == ["Uploading", "Verifying"]


def test_extending_a_case(client, analyst, clock):
    _, h = analyst
    first = upload(
        client, h, [("a.pdf", pdf_bytes(1)), ("b.csv", csv_bytes(3))], case_name="Case 7"
    ).json()
    clock.advance(60)
    second = upload(
        client, h, [("c.wav", wav_bytes(1))], case_name="Case 7", parent_job_id=first["job_id"]
    ).json()
    assert second["parent_job_id"] == first["job_id"] and second["case_name"] == "Case 7"
    upload(client, h, [("other.pdf", pdf_bytes(1))], case_name="Case 8")

    cases = client.get("/api/v1/cases", headers=h).json()["cases"]
    assert {c["case_name"]: c["job_count"] for c in cases} == {"Case 7": 2, "Case 8": 1}
    assert all(c["last_activity"].endswith("Z") for c in cases)

    r = client.get("/api/v1/cases/Case 7/jobs", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["case_name"] == "Case 7"
    assert [j["job_id"] for j in body["jobs"]] == [first["job_id"], second["job_id"]]
    j1, j2 = body["jobs"]
    assert set(j1) == {
        "job_id",
        "status",
        "total_files",
        "processed_files",
        "parent_job_id",
        "created_at",
        "completed_at",
    }
    assert (j1["total_files"], j1["processed_files"], j1["parent_job_id"]) == (2, 0, None)
    assert (j2["total_files"], j2["parent_job_id"], j2["status"]) == (1, first["job_id"], "pending")
    assert j2["completed_at"] is None
    assert client.get("/api/v1/cases/No such case/jobs", headers=h).status_code == 404


def test_fields_after_the_files_still_apply(client, analyst):
    _, h = analyst
    first = upload(client, h, [("a.pdf", pdf_bytes(1))]).json()
    from tests.uploads_helpers import multipart

    body, ctype = multipart([("b.pdf", pdf_bytes(1))])
    tail = (
        f'--{ctype.split("=")[1]}\r\nContent-Disposition: form-data; name="case_name"\r\n'
        f"\r\nLate case\r\n--{ctype.split('=')[1]}\r\nContent-Disposition: form-data; "
        f'name="parent_job_id"\r\n\r\n{first["job_id"]}\r\n'
    ).encode()
    end = f"--{ctype.split('=')[1]}--\r\n".encode()
    body = body[: -len(end)] + tail + end
    r = client.post("/api/v1/upload", content=body, headers={**h, "Content-Type": ctype})
    assert r.status_code == 202, r.text
    assert r.json()["case_name"] == "Late case"
    assert r.json()["parent_job_id"] == first["job_id"]


def test_upload_needs_sign_in(client):
    r = upload(client, {}, [("a.pdf", pdf_bytes(1))])
    assert r.status_code == 401
