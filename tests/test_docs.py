"""The README lists every setting, and lists none that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from stagecoach.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_readme_and_no_other():
    readme = (ROOT / "README.md").read_text()
    declared = {f"STAGECOACH_{name.upper()}" for name in Settings.model_fields}
    listed = set(re.findall(r"^\| `(STAGECOACH_[A-Z_]+)` \|", readme, re.M))
    assert declared - listed == set(), "settings missing from README"
    assert listed - declared == set(), "README lists settings that do not exist"


def test_every_setting_has_help_text():
    assert all(f.description for f in Settings.model_fields.values())


def test_readme_links_the_status_doc():
    readme = (ROOT / "README.md").read_text()
    assert "docs/status.md" in readme and (ROOT / "docs" / "status.md").is_file()
