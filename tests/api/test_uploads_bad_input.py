"""Bad uploads: a clear problem+json answer, and nothing left in the database or on disk."""

from __future__ import annotations

import errno
import io
import os
import random
import zipfile

import pytest

from stagecoach.app import create_app
from tests.samples import docx_bytes, pdf_bytes, wav_bytes
from tests.uploads_helpers import (
    UPLOAD,
    assert_nothing_left,
    blobs,
    file_rows,
    multipart,
    row_counts,
    upload,
)

PROBLEM = "application/problem+json"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


def _noise() -> bytes:
    data = bytearray(random.Random(7).randbytes(50_000))
    data[0] = 0x17  # no magic number starts with this byte
    return bytes(data)


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("empty.wav", b"")], 422, ["'empty.wav'", "empty"]),
        ([("song.mp3", pdf_bytes(1))], 415, ["'song.mp3'", "PDF document", ".mp3"]),
        ([("noise.bin", _noise())], 415, ["'noise.bin'", "not a supported type"]),
        ([("noise.wav", _noise())], 415, ["'noise.wav'", "not a supported type"]),
        ([("archive.zip", _zip())], 415, ["'archive.zip'", "ZIP"]),
        ([("report.pdf", b"%PDF-1.4\n" + b"garbage " * 200)], 422, ["'report.pdf'", "PDF"]),
        ([("data.json", b"[1, 2, oops")], 422, ["'data.json'", "JSON"]),
        ([("broken.wav", b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 40)], 422, ["'broken.wav'"]),
        # A good first file does not keep a bad second one: the whole upload is refused.
        ([("ok.pdf", pdf_bytes(1)), ("bad.mp3", b"%PDF-1.4 not audio")], 415, ["file 2"]),
    ],
)
def test_bad_files_are_refused_and_nothing_is_left(client, analyst, services, files, status, words):
    _, h = analyst
    r = upload(client, h, files)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    for w in words:
        assert w in r.json()["detail"]
    assert_nothing_left(services)


def test_over_the_size_limit_is_413_and_nothing_is_left(make_settings, services, user_factory):
    from fastapi.testclient import TestClient

    settings = make_settings(max_upload_mb=1)
    services.ctx.settings = settings
    with TestClient(create_app(settings, services=services)) as client:
        user = user_factory()
        token = services.accounts.login(user.username, "correct horse battery")
        h = {"Authorization": f"Bearer {token}"}
        big = b"RIFF" + b"\x00" * (2 * 2**20)
        r = upload(client, h, [("small.pdf", pdf_bytes(1)), ("big.wav", big)])
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
        assert "'big.wav'" in r.json()["detail"] and "1 MiB" in r.json()["detail"]
        assert_nothing_left(services)
        # A Content-Length over every limit is refused before any of the body is read.
        body, ctype = multipart([("a.pdf", pdf_bytes(1))])
        r = client.post(
            UPLOAD,
            content=body,
            headers={
                **h,
                "Content-Type": ctype,
                "Content-Length": str(settings.max_files_per_upload * 2**20 + 10 * 2**20),
            },
        )
        assert r.status_code == 413
        assert_nothing_left(services)


def test_too_many_files_is_413_and_nothing_is_left(make_settings, services, user_factory):
    from fastapi.testclient import TestClient

    settings = make_settings(max_files_per_upload=2)
    services.ctx.settings = settings
    with TestClient(create_app(settings, services=services)) as client:
        user = user_factory()
        token = services.accounts.login(user.username, "correct horse battery")
        h = {"Authorization": f"Bearer {token}"}
        r = upload(client, h, [(f"p{i}.pdf", pdf_bytes(1)) for i in range(3)])
        assert r.status_code == 413 and "at most 2" in r.json()["detail"]
        assert_nothing_left(services)


def test_parent_job_the_caller_may_not_see_is_404(client, user_factory, login, services):
    a, b = user_factory(), user_factory()
    ha, hb = login(a.username), login(b.username)
    parent = upload(client, ha, [("a.pdf", pdf_bytes(1))]).json()["job_id"]
    before = row_counts(services)
    for pid in (parent, "00000000-0000-0000-0000-000000000000", "x" * 500):
        r = upload(client, hb, [("b.pdf", pdf_bytes(1))], parent_job_id=pid)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert row_counts(services) == before
    assert len(blobs(services)) == 1


def test_other_refusals(client, analyst, services):
    _, h = analyst
    r = upload(client, h, [("a.pdf", pdf_bytes(1))], pipeline="teleport")
    assert r.status_code == 422 and "teleport" in r.json()["detail"]
    r = upload(client, h, [])
    assert r.status_code == 422 and "no files" in r.json()["detail"]
    r = client.post(UPLOAD, json={"files": []}, headers=h)
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
    body, ctype = multipart([("a.pdf", pdf_bytes(1))])
    r = client.post(UPLOAD, content=body[:-40], headers={**h, "Content-Type": ctype})
    assert r.status_code == 422
    r = upload(client, h, [("a.pdf", pdf_bytes(1))], case_name="c" * 201)
    assert r.status_code == 422 and "case_name" in r.json()["detail"]
    # a pipeline asked for that takes none of the files is refused, naming what it takes
    r = upload(client, h, [("notes.txt", b"plain words\n" * 20)], pipeline="audio")
    assert r.status_code == 415 and r.headers["content-type"] == PROBLEM
    assert "pipeline 'audio' takes audio, video files" in r.json()["detail"]
    assert_nothing_left(services)


def test_a_pipeline_asked_for_applies_to_the_files_it_can_take(client, analyst):
    _, h = analyst
    r = upload(client, h, [("a.wav", wav_bytes(1)), ("b.pdf", pdf_bytes(1))], pipeline="checksum")
    assert r.status_code == 202, r.text
    assert [a["pipeline"] for a in r.json()["artifacts"]] == ["checksum", "checksum"]
    r = upload(client, h, [("a.wav", wav_bytes(1)), ("b.pdf", pdf_bytes(1))], pipeline="audio")
    assert [a["pipeline"] for a in r.json()["artifacts"]] == ["audio", "document"]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "../../etc/passwd"),
        ("a\x00b\x01c\x7f.txt", "abc.txt"),
        ("x" * 1000 + ".txt", "x" * 251 + ".txt"),
        (b"caf\xe9-\xff.txt", "caf\ufffd-\ufffd.txt"),
        ("<script>alert(1)</script>.txt", "<script>alert(1)</script>.txt"),
        ("\u202etxt.exe", "txt.exe"),
    ],
)
def test_hostile_names_are_display_text_only(client, analyst, services, raw, shown):
    _, h = analyst
    r = upload(client, h, [(raw, b"just some text\n")])
    assert r.status_code == 202, r.text
    art = r.json()["artifacts"][0]
    assert art["filename"] == shown
    (f,) = file_rows(services)
    assert f["original_name"] == shown and len(f["original_name"]) <= 255
    assert f["stored_path"] == f"uploads/{f['file_id'][:2]}/{f['file_id']}"
    root = services.ctx.settings.files_dir.resolve()
    assert [p.relative_to(root).as_posix() for p in blobs(services)] == [f["stored_path"]]
    meta = client.get(f"/api/v1/files/{f['file_id']}/content", headers=h)
    assert meta.status_code == 200
    disposition = meta.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition


class _FullDisk:
    """A blob writer on a disk that fills up after ``room`` bytes."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def close(self) -> None:
        self.real.close()


def test_disk_full_is_507_and_the_job_fails(client, analyst, services, monkeypatch):
    _, h = analyst
    storage = services.storage
    real_open = storage.open_write
    monkeypatch.setattr(storage, "open_write", lambda key: _FullDisk(real_open(key), 2**20))
    r = upload(client, h, [("long.wav", b"RIFF\x00\x00\x00\x00WAVE" + bytes(3 * 2**20))])
    assert r.status_code == 507 and r.headers["content-type"] == PROBLEM
    assert "storage space" in r.json()["detail"]
    assert blobs(services) == []
    (f,) = file_rows(services)
    assert f["status"] == "failed" and f["stored_path"] is None
    ha = analyst[1]
    jobs = client.get("/api/v1/jobs", headers=ha).json()["jobs"]
    assert len(jobs) == 1
    job = jobs[0]
    assert job["status"] == "failed"
    assert job["error"]["code"] == "storage_full" and job["error"]["retryable"] is False
    assert "disk space" in job["error"]["message"]
    # nothing of it can be claimed: its file failed with the job
    assert [a["status"] for a in job["artifacts"]] == ["failed"]


def test_accepted_formats_are_a_setting(make_settings, services, user_factory):
    from fastapi.testclient import TestClient

    settings = make_settings(upload_formats="pdf,csv")
    services.ctx.settings = settings
    with TestClient(create_app(settings, services=services)) as client:
        user = user_factory()
        token = services.accounts.login(user.username, "correct horse battery")
        h = {"Authorization": f"Bearer {token}"}
        r = upload(client, h, [("a.docx", docx_bytes(1))])
        assert r.status_code == 415 and "Word document files are not accepted" in r.json()["detail"]
        assert_nothing_left(services)
        assert upload(client, h, [("a.pdf", pdf_bytes(1))]).status_code == 202
