"""docs/cli.md holds the real `--help` of every command; this test keeps it in step.

After changing a command, rewrite the blocks with `python -m tests.test_cli_docs`.
"""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from stagecoach.cli import app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
COMMANDS = [
    [],
    ["login"],
    ["logout"],
    ["whoami"],
    ["upload"],
    ["status"],
    ["jobs"],
    ["timeline"],
    ["retry"],
    ["cancel"],
    ["results"],
    ["cases"],
    ["cases", "show"],
    ["streamlit"],
    ["serve"],
    ["worker"],
    ["cleanup"],
    ["users", "create"],
    ["users", "list"],
]
BLOCK = re.compile(r"<!-- help: (?P<cmd>[a-z ]*) -->\n```\n(?P<text>.*?)```\n", re.S)


def help_text(command: list[str]) -> str:
    env = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1"}
    r = CliRunner().invoke(app, [*command, "--help"], env=env, prog_name="stagecoach")
    assert r.exit_code == 0, r.output
    lines = [line.rstrip() for line in r.output.splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def render(doc: str) -> str:
    return BLOCK.sub(
        lambda m: f"<!-- help: {m['cmd']} -->\n```\n{help_text(m['cmd'].split())}```\n", doc
    )


def test_every_command_has_its_real_help_in_the_docs():
    doc = DOC.read_text()
    found = [m["cmd"] for m in BLOCK.finditer(doc)]
    assert found == [" ".join(c) for c in COMMANDS], "docs/cli.md lists other commands"
    assert render(doc) == doc, "docs/cli.md is out of date: python -m tests.test_cli_docs"


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
