"""The stage path: what the job page says of each stage."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

from stagecoach.streamlit.components import stage_path  # noqa: E402

STAGES = ["Uploading", "Transcribing", "Analyzing"]


@pytest.mark.parametrize(
    ("status", "current", "shown"),
    [
        ("pending", "Uploading", "**Uploading** → Transcribing → Analyzing → Completed/Failed"),
        (
            "processing",
            "Transcribing",
            "~~Uploading~~ → **Transcribing** → Analyzing → Completed/Failed",
        ),
        ("failed", "Transcribing", "~~Uploading~~ → **Transcribing** → Analyzing → **Failed**"),
        (
            "completed",
            "Analyzing",
            "~~Uploading~~ → ~~Transcribing~~ → ~~Analyzing~~ → **Completed**",
        ),
        # the job may name an earlier stage last: a completed job ran them all
        (
            "completed",
            "Transcribing",
            "~~Uploading~~ → ~~Transcribing~~ → ~~Analyzing~~ → **Completed**",
        ),
    ],
)
def test_stage_path(status, current, shown):
    assert stage_path({"status": status, "current_stage": current, "stages": STAGES}) == shown
