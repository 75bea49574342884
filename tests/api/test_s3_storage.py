"""The API over S3 storage (a real S3-compatible server): uploads stream into the bucket,
downloads stream out of it with Range, and the API host keeps no copy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from stagecoach.settings import Settings
from stagecoach.storage.s3 import S3Storage
from tests.samples import pdf_bytes, wav_bytes
from tests.uploads_helpers import upload


@pytest.fixture
def settings(make_settings: Callable[..., Settings], s3_url: str) -> Settings:
    return make_settings(storage_url=s3_url)


def test_upload_lands_in_the_bucket_and_downloads_with_range(client, analyst, services, settings):
    _, h = analyst
    assert isinstance(services.storage, S3Storage)
    data = pdf_bytes(3)
    doc = upload(client, h, [("doc.pdf", data), ("talk.wav", wav_bytes(1.0))]).json()
    file_id = doc["artifacts"][0]["file_id"]
    meta = client.get(f"/api/v1/files/{file_id}", headers=h).json()
    assert meta["page_count"] == 3  # probed from the upload's local copy
    assert services.storage.size(meta["stored_path"]) == len(data)
    assert not [p for p in Path(settings.cache_dir).rglob("*") if p.is_file()]  # none kept
    assert not Path(settings.files_dir).exists()  # nothing in local storage
    url = f"/api/v1/files/{file_id}/content"
    r = client.get(url, headers=h)
    assert r.status_code == 200 and hashlib.sha256(r.content).digest() == (
        hashlib.sha256(data).digest()
    )
    assert r.headers["content-length"] == str(len(data))
    r = client.get(url, headers={**h, "Range": "bytes=5-14"})
    assert r.status_code == 206 and r.content == data[5:15]
    assert r.headers["content-range"] == f"bytes 5-14/{len(data)}"
    r = client.get(url, headers={**h, "Range": "bytes=-7"})
    assert r.status_code == 206 and r.content == data[-7:]
    r = client.get(url, headers={**h, "Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    r = client.get(url, headers={**h, "Range": "bytes=0-1,5-6"})  # several: the whole file
    assert r.status_code == 200 and r.content == data


def test_a_blob_gone_from_the_bucket_answers_404(client, analyst, services):
    _, h = analyst
    doc = upload(client, h, [("doc.pdf", pdf_bytes(1))]).json()
    file_id = doc["artifacts"][0]["file_id"]
    key = client.get(f"/api/v1/files/{file_id}", headers=h).json()["stored_path"]
    services.storage.delete(key)
    r = client.get(f"/api/v1/files/{file_id}/content", headers=h)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
