"""File blobs: uploads and results, stored under generated keys, never under client names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagecoach.storage.base import Storage

if TYPE_CHECKING:
    from stagecoach.settings import Settings


def open_storage(settings: Settings) -> Storage:
    """The configured storage: object storage for ``storage_url``, else the local directory."""
    if settings.storage_url is not None:
        from stagecoach.storage.s3 import S3Storage

        return S3Storage(settings.storage_url, settings.cache_dir)
    from stagecoach.storage.local import LocalStorage

    return LocalStorage(settings.files_dir)
