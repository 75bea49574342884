"""Every shell example of the README runs, as written, against a live server: a newcomer's
session. Like datasette's docs tests, so the README cannot drift from the code.

The server is `stagecoach serve` in a fresh directory (its data in ./stagecoach-data, as
`make run` keeps it); the README's ```sh blocks run in order in one bash session there, so
later blocks use what earlier ones set ($T, $JOB, field). What a newcomer types at a prompt
is fed on stdin; the README's address is replaced by the live server's (and STAGECOACH_URL
names it for the CLI). Each command must
exit 0 and print output that parses; every job the examples start must reach its end.
```text blocks (the quick start's make commands, the command synopsis) are not run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stagecoach.client import Client
from tests.pipelines.documents import make_pdf
from tests.pipelines.media import encode, speech_wav
from tests.pipelines.speech_fixtures import SENTENCES
from tests.tools import require_tool

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_URL = "http://127.0.0.1:8000"
ANA_PASSWORD = "ana's long password"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# What the newcomer types, by the command that asks (the admin's is the one `serve` printed).
TYPED = [
    (re.compile(r"^read -rsp"), ["{admin}"]),
    (re.compile(r"^stagecoach users create"), [ANA_PASSWORD, ANA_PASSWORD]),
    (re.compile(r"^stagecoach login"), [ANA_PASSWORD]),
]
STREAM_SECONDS = 8  # how long a live (SSE) example is followed before it is stopped
STATUS_LINE = re.compile(r"^([0-9a-f-]{36}  )?(pending|processing|completed|failed|cancelled) · ")


def shell_blocks(lang: str = "sh") -> list[str]:
    return [body for tag, body in FENCE.findall(README.read_text(encoding="utf-8")) if tag == lang]


def commands(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comment-only and blank lines left out."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line + "\n"
            continue
        out.append(pending + line)
        pending = ""
    assert not pending, f"a command ends in a continuation: {pending!r}"
    return out


def test_readme_has_its_examples_as_sh_blocks():
    blocks = shell_blocks()
    assert len(blocks) >= 3
    # any block that calls the API or the CLI is either run here (sh) or a synopsis (text)
    for tag, body in FENCE.findall(README.read_text(encoding="utf-8")):
        if re.search(r"(^|\s)(curl|stagecoach) ", body):
            assert tag in ("sh", "text"), body
    assert not [c for b in blocks for c in commands(b) if "jq " in c.split("#")[0]], "needs jq"


@pytest.fixture
def shell() -> str:
    """bash, after checking the examples' tools are there (curl; python3 is this Python)."""
    require_tool("curl", install="apt-get install curl")
    return require_tool("bash", install="apt-get install bash")


@pytest.fixture
def newcomer(shell: str, tmp_path: Path) -> Path:
    """A fresh directory with the venv `make run` made, and the files the examples upload."""
    work = tmp_path / "newcomer"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))
    speech = speech_wav(SENTENCES[:2], tmp_path / "speech.wav")
    encode(speech, work / "session.mp3", "libmp3lame")
    encode(speech, work / "interview.mp3", "libmp3lame")
    make_pdf(work / "notes.pdf", pages=2)
    return work


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STAGECOACH_") or k == "STAGECOACH_LOG_FORMAT"
    }
    env.update(extra)
    return env


@pytest.fixture
def server(newcomer: Path) -> Iterator[tuple[str, str]]:
    """`stagecoach serve` in the newcomer's directory: its URL and the admin password it printed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (newcomer.parent / "serve.log").open("w+")
    proc = subprocess.Popen(
        [str(Path(sys.prefix) / "bin" / "stagecoach"), "serve", "--port", str(port)],
        cwd=newcomer,
        env=clean_env(STAGECOACH_LOG_FORMAT="text"),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not come up: " + Path(log.name).read_text())
        printed = re.search(r"with password:\s*(\S+)", Path(log.name).read_text())
        assert printed, Path(log.name).read_text()
        yield url, printed.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def run_session(shell: str, work: Path, url: str, admin_password: str) -> list[dict[str, str]]:
    """Run every command of the README's sh blocks in one bash; each one's rc, output, $JOB."""
    cmds = [c for block in shell_blocks() for c in commands(block)]
    out = work.parent / "session"
    out.mkdir()
    script = ["set -o pipefail"]
    for i, cmd in enumerate(cmds):
        cmd = cmd.replace(README_URL, url)
        if "curl -fsSN" in cmd:  # a live stream: followed for a while, then stopped
            cmd = cmd.replace("curl -fsSN", f"curl --max-time {STREAM_SECONDS} -fsSN")
        typed = next((lines for pattern, lines in TYPED if pattern.search(cmd)), [])
        (out / f"{i}.in").write_text(
            "".join(line.format(admin=admin_password) + "\n" for line in typed)
        )
        script += [
            f"{{ {cmd}\n}} >{out}/{i}.out 2>{out}/{i}.err <{out}/{i}.in",
            f'echo $? >{out}/{i}.rc; echo "${{JOB:-}}" >{out}/{i}.job',
        ]
    subprocess.run(
        [shell, "-c", "\n".join(script)],
        cwd=work,
        # the CLI's way to the server the README names; its stored login stays in the newcomer's
        # directory, not in this machine's home
        env=clean_env(STAGECOACH_URL=url, XDG_CONFIG_HOME=str(work / ".config")),
        timeout=600,
        check=True,
        start_new_session=True,  # no terminal: prompts read what is typed on stdin
    )
    return [
        {
            "cmd": cmd,
            **{k: (out / f"{i}.{k}").read_text().strip() for k in ("rc", "out", "err", "job")},
        }
        for i, cmd in enumerate(cmds)
    ]


def assert_output_parses(result: dict[str, str]) -> None:
    cmd, out = result["cmd"], result["out"]
    if not out:
        return
    if "curl -fsSN" in cmd:  # Server-Sent Events: every data line is a JSON document
        data = [line[5:] for line in out.splitlines() if line.startswith("data:")]
        assert data, out
        for line in data:
            assert json.loads(line)["job_id"]
    elif cmd.startswith("curl") or "--json" in cmd:
        for line in out.splitlines() if "--json" in cmd else [out]:
            json.loads(line)
    elif "users create" in cmd:
        # its prompts go to stdout (on a terminal they end the line the password is typed on)
        assert re.fullmatch(r"(Password: ?Repeat for confirmation: ?)?created \w+ '\w+'", out)
    else:
        for line in out.splitlines():
            assert STATUS_LINE.match(line), line


def test_every_readme_example_runs_against_a_live_server(shell, newcomer, server):
    url, admin_password = server
    results = run_session(shell, newcomer, url, admin_password)

    for r in results:
        assert r["rc"] == "0" or ("curl -fsSN" in r["cmd"] and r["rc"] == "28"), r
        assert_output_parses(r)
    jobs = {r["job"] for r in results if r["job"]}
    assert len(jobs) >= 3, results  # the upload, the reported job, the CLI's
    with Client.login(url, "admin", admin_password) as admin:
        for job_id in jobs:
            # every example ends well: the mixed upload's recording and pdf each by their own
            # pipeline, the reported job as its reporter said
            done = admin.wait(job_id, timeout=180)
            assert done["status"] == "completed" and done["outcome"] == "complete", done
    # `users create` acted on the local database: the one in the directory it ran in
    assert (newcomer / "stagecoach-data" / "stagecoach.db").is_file()
