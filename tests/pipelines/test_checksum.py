"""The checksum pipeline: every byte read, size and sha256 compared with the upload's."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.checksum import CHECKSUM, verify
from tests.pipelines.conftest import RecordingReporter


def test_verifies_every_byte_and_writes_checksum_json(tmp_path, run_stages):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 20_000)  # 5 MiB: several chunks

    run = run_stages(CHECKSUM, path)

    reporter = run.reporters["Verifying"]
    reporter.assert_complete()
    assert reporter.totals == [5_120_000]
    assert len(reporter.progress_calls) >= 2
    result = json.loads(run.result("checksum.json"))
    assert result == {"size": 5_120_000, "sha256": run.artifact.sha256, "verified": True}


@pytest.mark.parametrize("change", ["content", "size"])
def test_mismatch_is_a_permanent_error(change, tmp_path, make_artifact):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"original content")
    art = make_artifact(path)
    if change == "content":
        path.write_bytes(b"Original content")
    else:
        art = dataclasses.replace(art, size=art.size + 1)

    with pytest.raises(StageError) as caught:
        verify(art, RecordingReporter("Verifying", art.size))

    error = caught.value.error
    assert (error.code, error.retryable) == ("checksum_mismatch", False)
    assert error.category == ErrorCategory.INPUT
    assert "upload it again" in error.hint
    assert not (art.results_dir / "checksum.json").exists()
