"""System tools some tests use, looked up in one place.

A test that needs a tool asks ``require_tool``: when the tool is missing the test is skipped
with a note that starts with ``MISSING_TOOL`` (tests/conftest.py counts those in the run's
summary), and under ``STAGECOACH_TEST_REQUIRE_ALL=1`` (CI) it fails instead. Tools are looked
up on ``STAGECOACH_TEST_TOOL_PATH`` when it is set (the harness's own test points it at an
empty directory), else on ``PATH``.
"""

from __future__ import annotations

import os
import shutil

import pytest

MISSING_TOOL = "missing tool"
REQUIRE_ALL = os.environ.get("STAGECOACH_TEST_REQUIRE_ALL") == "1"


def find_tool(*names: str) -> str | None:
    """The path of the first of ``names`` found, or None."""
    search = os.environ.get("STAGECOACH_TEST_TOOL_PATH")
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def require_tool(*names: str, install: str) -> str:
    """The path of the first of ``names`` found; else skip (or, with REQUIRE_ALL, fail)."""
    found = find_tool(*names)
    if found:
        return found
    why = f"{MISSING_TOOL} {names[0]}: {install}"
    if REQUIRE_ALL:
        pytest.fail(f"{why} (STAGECOACH_TEST_REQUIRE_ALL=1 requires every tool)", pytrace=False)
    pytest.skip(why)
