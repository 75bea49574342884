"""Storage in an S3-compatible bucket (AWS S3, MinIO, ...), for hosts that share no disk.

Chosen by ``STAGECOACH_STORAGE_URL=s3://bucket/prefix``. Endpoint, region and credentials
come from the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_REGION`` or
``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), read by boto3.

Uploads stream as a multipart upload, one part in memory at a time; small blobs go in one
PUT. A blob written here is also kept under ``<data_dir>/cache/`` until ``discard_local``,
so the uploading process can probe it without fetching it back.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast
from urllib.parse import urlsplit

from stagecoach.storage.base import CHUNK

PART_BYTES = 8 * 1024 * 1024  # S3 parts are at least 5 MiB, except the last


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, "prefix/"); the prefix may be empty."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"storage URL must look like s3://bucket/prefix, not {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def make_client() -> Any:
    import boto3
    from botocore.config import Config

    # AWS_REGION is the newer name; boto3 reads AWS_DEFAULT_REGION on its own.
    region = os.environ.get("AWS_REGION") or None
    # One client serves every request thread of an API process: more than botocore's 10
    # pooled connections, so concurrent downloads do not queue for one.
    config = Config(max_pool_connections=32)
    return boto3.session.Session().client("s3", region_name=region, config=config)


class S3Storage:
    def __init__(self, url: str, cache_dir: Path, client: Any = None) -> None:
        self.bucket, self.prefix = parse_url(url)
        self.cache_dir = cache_dir.resolve()
        self.client = client if client is not None else make_client()

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"storage key escapes the storage prefix: {key!r}")
        return self.prefix + key

    def _cached(self, key: str) -> Path:
        self._key(key)  # the same check
        return self.cache_dir / key

    def open_write(self, key: str) -> BinaryIO:
        return cast(BinaryIO, _Writer(self, key))

    def put_file(self, key: str, src: Path) -> int:
        # Managed transfer: multipart above its threshold, streamed from the file.
        self.client.upload_file(str(src), self.bucket, self._key(key))
        return src.stat().st_size

    def put_bytes(self, key: str, data: bytes) -> None:
        # One PUT replaces the object whole: a reader sees the old blob or the new one.
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def read_bytes(self, key: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return bytes(body.read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        self._cached(key).unlink(missing_ok=True)

    def size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        extra = {} if start == 0 and end is None else {"Range": f"bytes={start}-{_end(end)}"}
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def local_path(self, key: str) -> Path:
        target = self._cached(key)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
        try:
            self.client.download_file(self.bucket, self._key(key), str(part))
            part.replace(target)  # whole or not at all
        except self.client.exceptions.ClientError as exc:
            if not _missing(exc):
                raise
        finally:
            part.unlink(missing_ok=True)
        return target

    def discard_local(self, path: Path) -> None:
        if path.resolve().is_relative_to(self.cache_dir):
            path.unlink(missing_ok=True)


def _missing(exc: Any) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _end(end: int | None) -> str:
    return "" if end is None else str(end)


class _Writer:
    """A blob written in chunks: parts go out as they fill; a local copy goes to the cache."""

    def __init__(self, storage: S3Storage, key: str) -> None:
        self.s = storage
        self.key = storage._key(key)
        self.cached = storage._cached(key)
        self.cached.parent.mkdir(parents=True, exist_ok=True)
        self.part_path = self.cached.with_name(f"{self.cached.name}.{uuid.uuid4().hex}.part")
        self.local: IO[bytes] = self.part_path.open("xb")
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.closed = False

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.closed = True
            self.local.close()
            self._abort()

    def write(self, data: bytes) -> int:
        self.local.write(data)
        self.buffer += data
        if len(self.buffer) >= PART_BYTES:
            self._send_part()
        return len(data)

    def _send_part(self) -> None:
        c = self.s.client
        if self.upload_id is None:
            started = c.create_multipart_upload(Bucket=self.s.bucket, Key=self.key)
            self.upload_id = started["UploadId"]
        number = len(self.parts) + 1
        sent = c.upload_part(
            Bucket=self.s.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=bytes(self.buffer),
        )
        self.parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self.buffer.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.local.close()
            c = self.s.client
            if self.upload_id is None:
                c.put_object(Bucket=self.s.bucket, Key=self.key, Body=bytes(self.buffer))
            else:
                if self.buffer:
                    self._send_part()
                c.complete_multipart_upload(
                    Bucket=self.s.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": self.parts},
                )
            self.buffer.clear()
            self.part_path.replace(self.cached)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        self.part_path.unlink(missing_ok=True)
        if self.upload_id is not None:
            with contextlib.suppress(Exception):  # the bucket's lifecycle rule is the backstop
                self.s.client.abort_multipart_upload(
                    Bucket=self.s.bucket, Key=self.key, UploadId=self.upload_id
                )
