"""The test harness itself: with no tools (or no PostgreSQL) to be found, the tests that need
them skip with a note counted in the summary line, and with STAGECOACH_TEST_REQUIRE_ALL=1
they fail."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.tools import MISSING_TOOL

ROOT = Path(__file__).resolve().parents[1]
# Every test that needs a system tool (tests/tools.py: require_tool).
TOOL_TESTS = [
    "tests/e2e/test_browser.py",
    "tests/pipelines/test_speech_fixtures.py::test_the_script_makes_the_committed_fixtures",
    "tests/test_readme.py::test_every_readme_example_runs_against_a_live_server",
]


def run_without_tools(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """pytest in a subprocess over TOOL_TESTS, its tool look-ups pointed at an empty directory."""
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    report = tmp_path / "report.xml"
    child_env = {
        k: v
        for k, v in os.environ.items()
        # not the outer run's coverage, nor its requirements or an explicit browser
        if not k.startswith(("COV_CORE_", "STAGECOACH_TEST_REQUIRE_", "STAGECOACH_CHROMIUM"))
    }
    child_env.update(STAGECOACH_TEST_TOOL_PATH=str(empty), **env)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:cov", "-q"]
        + [f"--junitxml={report}", *TOOL_TESTS],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        found = [c for c in case if c.tag in ("skipped", "failure", "error")]
        outcome = (found[0].tag, found[0].get("message", "")) if found else ("passed", "")
        outcomes[case.get("name")] = outcome
    return proc, outcomes


@pytest.mark.slow
def test_missing_tools_skip_with_a_counted_note(tmp_path):
    proc, outcomes = run_without_tools(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outcomes and all(
        kind == "skipped" and MISSING_TOOL in message for kind, message in outcomes.values()
    ), outcomes
    note = [line for line in proc.stdout.splitlines() if line.startswith("NOTE: ")]
    assert any(
        f"{len(outcomes)} test(s) skipped for a missing tool" in line
        and all(tool in line for tool in ("chromium", "flite", "curl"))
        for line in note
    ), proc.stdout


@pytest.mark.slow
def test_missing_tools_fail_when_all_are_required(tmp_path):
    proc, outcomes = run_without_tools(tmp_path, STAGECOACH_TEST_REQUIRE_ALL="1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outcomes and all(kind in ("failure", "error") for kind, _ in outcomes.values()), outcomes
    assert "STAGECOACH_TEST_REQUIRE_ALL=1 requires every tool" in proc.stdout


@pytest.mark.slow
def test_without_postgresql_its_tests_skip_with_a_note(tmp_path):
    # a newcomer's machine: nothing answers where PostgreSQL would be
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COV_CORE_", "STAGECOACH_TEST_REQUIRE_"))
    }
    child_env["STAGECOACH_TEST_PG_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:cov", "-q", "-rs"]
        + ["tests/api/test_access.py::test_healthz_checks_the_database"],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert "NOTE: PostgreSQL was not reachable" in proc.stdout
