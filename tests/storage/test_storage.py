"""Both storages keep one contract: write in chunks, read ranges, size, local copies, delete.
The S3 one runs against a real S3-compatible server (moto's server mode)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from pydantic import ValidationError

from stagecoach.settings import Settings
from stagecoach.storage import open_storage
from stagecoach.storage.base import Storage
from stagecoach.storage.local import LocalStorage
from stagecoach.storage.s3 import PART_BYTES, S3Storage, parse_url


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    settings = Settings(data_dir=tmp_path / "data")
    if request.param == "s3":
        url = request.getfixturevalue("s3_url")
        settings = Settings(data_dir=tmp_path / "data", storage_url=url)
    return open_storage(settings)


def _blob(n: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(n))


def _write(storage: Storage, key: str, data: bytes, chunk: int = 1 << 20) -> None:
    w = storage.open_write(key)
    for i in range(0, len(data), chunk):
        w.write(data[i : i + chunk])
    w.close()


def test_chunked_write_then_ranges_size_and_delete(storage: Storage) -> None:
    data = _blob(300_000)
    _write(storage, "uploads/ab/one", data, chunk=64 * 1024)
    assert storage.size("uploads/ab/one") == len(data) and storage.exists("uploads/ab/one")
    assert b"".join(storage.read("uploads/ab/one")) == data
    assert b"".join(storage.read("uploads/ab/one", 10, 19)) == data[10:20]
    assert b"".join(storage.read("uploads/ab/one", len(data) - 5)) == data[-5:]
    storage.delete("uploads/ab/one")
    assert storage.size("uploads/ab/one") is None and not storage.exists("uploads/ab/one")
    storage.delete("uploads/ab/one")  # deleting twice is fine


def test_local_path_is_a_readable_copy_given_back_when_done(storage: Storage, tmp_path: Path):
    src = tmp_path / "result.txt"
    src.write_bytes(b"a result\n")
    assert storage.put_file("results/j/a/result.txt", src) == 9
    path = storage.local_path("results/j/a/result.txt")
    assert path.read_bytes() == b"a result\n"
    storage.discard_local(path)
    if isinstance(storage, LocalStorage):
        assert path.is_file()  # the blob itself is never given back
    else:
        assert not path.exists()  # the cached copy is gone
        assert storage.size("results/j/a/result.txt") == 9  # the blob stays
    assert not storage.local_path("uploads/missing").exists()


def test_s3_large_blob_goes_as_multipart_with_a_cached_copy(s3_url: str, tmp_path: Path):
    storage = open_storage(Settings(data_dir=tmp_path / "data", storage_url=s3_url))
    assert isinstance(storage, S3Storage)
    data = _blob(PART_BYTES + 3 * 1024 * 1024)  # two parts
    _write(storage, "uploads/cd/big", data)
    bucket, prefix = parse_url(s3_url)
    client = boto3.session.Session().client("s3", region_name=os.environ["AWS_REGION"])
    head = client.head_object(Bucket=bucket, Key=f"{prefix}uploads/cd/big", PartNumber=1)
    assert head["PartsCount"] == 2  # multipart, not one PUT of the whole file
    cached = tmp_path / "data" / "cache" / "uploads" / "cd" / "big"
    assert cached.read_bytes() == data  # the writer's local copy, for probing
    assert storage.local_path("uploads/cd/big") == cached.resolve()
    assert (
        b"".join(storage.read("uploads/cd/big", PART_BYTES - 2, PART_BYTES + 1))
        == (data[PART_BYTES - 2 : PART_BYTES + 2])
    )
    storage.delete("uploads/cd/big")
    assert not cached.exists()
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_s3_failed_write_leaves_no_blob(s3_url: str, tmp_path: Path):
    storage = open_storage(Settings(data_dir=tmp_path / "data", storage_url=s3_url))
    with pytest.raises(RuntimeError), storage.open_write("uploads/ef/broken") as w:
        w.write(_blob(PART_BYTES + 10))  # the first part has gone out
        raise RuntimeError("the client went away")
    assert storage.size("uploads/ef/broken") is None
    assert not list((tmp_path / "data" / "cache").rglob("*broken*"))


def test_s3_keys_stay_under_the_prefix(s3_url: str, tmp_path: Path):
    storage = open_storage(Settings(data_dir=tmp_path / "data", storage_url=s3_url))
    for bad in ("../other/x", "/etc/passwd", "uploads/../../x"):
        with pytest.raises(ValueError):
            storage.size(bad)


@pytest.mark.parametrize("url", ["file:///srv/files", "s3://", "bucket/prefix", "gs://b/p"])
def test_a_storage_url_that_is_not_s3_is_refused_at_startup(url: str):
    with pytest.raises(ValidationError, match="s3://bucket/prefix"):
        Settings(storage_url=url)
