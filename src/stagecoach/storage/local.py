"""Storage in a local directory (the embedded default, under the data directory)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from stagecoach.storage.base import CHUNK


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if not p.is_relative_to(self.root):  # keys are ours, but never trust a path blindly
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return p

    def open_write(self, key: str) -> BinaryIO:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p.open("xb")

    def put_file(self, key: str, src: Path) -> int:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, p)
        return p.stat().st_size

    def put_bytes(self, key: str, data: bytes) -> None:
        # Write aside, flush to disk, then rename: a crash leaves the old blob or the new one.
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def size(self, key: str) -> int | None:
        p = self.path(key)
        return p.stat().st_size if p.is_file() else None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self.path(key).open("rb") as f:
            f.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                block = f.read(CHUNK if left is None else min(CHUNK, left))
                if not block:
                    return
                if left is not None:
                    left -= len(block)
                yield block

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def discard_local(self, path: Path) -> None:
        """The blob itself: nothing to give back."""
