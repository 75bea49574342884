"""Checkpoints in storage: kept whole, replaced atomically, read back, removed."""

from __future__ import annotations

from stagecoach.storage.local import LocalStorage
from stagecoach.worker.runner import checkpoint_key


def test_local_storage_keeps_small_blobs_whole_and_replaces_them(tmp_path):
    storage = LocalStorage(tmp_path)
    key = checkpoint_key("a1")
    assert key == "checkpoints/a1.json"
    assert storage.read_bytes(key) is None
    storage.put_bytes(key, b'{"n": 1}')
    storage.put_bytes(key, b'{"n": 2}')
    assert storage.read_bytes(key) == b'{"n": 2}'
    # Written aside and renamed: no temporary file is left beside it.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["a1.json"]
    storage.delete(key)
    assert storage.read_bytes(key) is None and not storage.exists(key)
