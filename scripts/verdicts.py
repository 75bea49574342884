"""Run a folder of real files through a running stagecoach and print one verdict per file.

    python scripts/verdicts.py FOLDER [--url URL] [--user NAME] [--timeout SECONDS]

Each file is uploaded as its own job over the HTTP API (the server's address in
``--url`` or ``STAGECOACH_URL``; a token in ``STAGECOACH_TOKEN``, or ``--user`` with the
password in ``STAGECOACH_PASSWORD`` or typed at the prompt). When every job has ended, its
results are read as their owner would read them, and one line per file says what came out:

    OK    releases.csv: dataset, completed in 2.1 s (40,000 rows/s) · 60 rows × 7 columns · ...
    WARN  config.json: dataset, completed in 0.4 s · 1 row × 12 columns · only one row ...
    FAIL  scan.pdf: document, failed: The PDF is damaged ... (hint: ...)
    NO    archive.zip: refused at upload (415): the content is a ZIP archive ...

``WARN`` marks a result that finished but reads badly (one row, one column, no text, an
empty transcript). The exit status is 0 when no line is FAIL or NO.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from stagecoach.client import DEFAULT_URL, Client, StagecoachError
from stagecoach.domain.speed import artifact_speed

RESULTS_READ = ("profile.json", "summary.md", "transcript.txt")


def _clip(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def dataset_facts(profile: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(facts, warnings) of a dataset profile."""
    cols = profile.get("column_profiles", [])
    kinds: dict[str, int] = {}
    for c in cols:
        kinds[c["type"]] = kinds.get(c["type"], 0) + 1
    facts = [
        f"{_plural(profile['rows'], 'row')} × {_plural(len(cols), 'column')}",
        "types: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])),
    ]
    facts += [_clip(n, 90) for n in profile.get("notes", [])]
    warnings = []
    if profile["rows"] <= 1:
        warnings.append("only one row")
    if len(cols) == 1 and profile.get("format") in ("csv", "tsv"):
        warnings.append("one column: was the delimiter found?")
    if cols and kinds.get("identifier", 0) + kinds.get("text", 0) == len(cols) > 2:
        warnings.append("no column has numbers, dates or categories")
    return facts, warnings


def document_facts(summary: str) -> tuple[list[str], list[str]]:
    points = [
        ln.removeprefix("- ").strip()
        for ln in summary.split("## Key terms")[0].splitlines()[1:]
        if ln.strip() and not ln.startswith("#")
    ]
    about = summary.split("## About the document")[-1]
    facts = [ln.removeprefix("- ").strip() for ln in about.splitlines() if ln.startswith("- Words")]
    if points and not points[0].startswith("No text could be found"):
        return [*facts, f"“{_clip(points[0])}”"], []
    return facts, ["no text found"]


def transcript_facts(text: str) -> tuple[list[str], list[str]]:
    words = len(text.split())
    if not words:
        return [], ["empty transcript"]
    return [f"{_plural(words, 'word')}", f"“{_clip(text)}”"], []


def verdict(name: str, job: dict[str, Any], results: dict[str, str]) -> str:
    """One line: OK / WARN / FAIL, the file, how it went and what came out."""
    artifact = (job.get("artifacts") or [{}])[0]
    file_type = artifact.get("file_type") or "file"
    if job["status"] != "completed":
        error = job.get("error") or {}
        why = error.get("message") or job.get("message") or job["status"]
        hint = f" (hint: {error['hint']})" if error.get("hint") else ""
        return f"FAIL  {name}: {file_type}, {job['status']}: {_clip(why, 120)}{hint}"
    seconds = sum((artifact.get("processing_stages") or {}).values())
    speed = artifact_speed(artifact)
    head = f"{file_type}, completed in {seconds:.1f} s" + (f" ({speed})" if speed else "")
    facts: list[str] = []
    warnings: list[str] = []
    if "profile.json" in results:
        facts, warnings = dataset_facts(json.loads(results["profile.json"]))
    elif "summary.md" in results:
        facts, warnings = document_facts(results["summary.md"])
    elif "transcript.txt" in results:
        facts, warnings = transcript_facts(results["transcript.txt"])
    mark = "WARN" if warnings else "OK"
    return " · ".join([f"{mark:<5} {name}: {head}", *facts, *warnings])


def _read_results(sc: Client, job_id: str) -> dict[str, str]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in sc.results(job_id):
            if r["name"] in RESULTS_READ:
                out[r["name"]] = sc.download(job_id, r["name"], tmp).read_text(encoding="utf-8")
    return out


def run(sc: Client, folder: Path, timeout: float, out: Any = sys.stdout) -> int:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    jobs: list[tuple[Path, str | None, str]] = []
    for path in files:  # all uploaded first, so the workers have them all to run
        try:
            jobs.append((path, sc.upload([path])["job_id"], ""))
        except StagecoachError as exc:
            jobs.append((path, None, f"refused at upload ({exc.status}): {exc.detail or exc}"))
    bad = 0
    for path, job_id, refused in jobs:
        if job_id is None:
            print(f"NO    {path.name}: {_clip(refused, 140)}", file=out, flush=True)
            bad += 1
            continue
        try:
            job = sc.wait(job_id, poll_seconds=0.5, timeout=timeout)
        except TimeoutError:
            print(f"FAIL  {path.name}: not done after {timeout:g} s", file=out, flush=True)
            bad += 1
            continue
        results = _read_results(sc, job_id) if job["status"] == "completed" else {}
        line = verdict(path.name, job, results)
        bad += line.startswith("FAIL")
        print(line, file=out, flush=True)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--url", default=os.environ.get("STAGECOACH_URL", DEFAULT_URL))
    parser.add_argument("--user", help="sign in as this account (else STAGECOACH_TOKEN)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait per file")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if args.user:
        password = os.environ.get("STAGECOACH_PASSWORD") or getpass.getpass()
        sc = Client.login(args.url, args.user, password)
    elif os.environ.get("STAGECOACH_TOKEN"):
        sc = Client(args.url, os.environ["STAGECOACH_TOKEN"])
    else:
        parser.error("set STAGECOACH_TOKEN, or give --user")
    with sc:
        return run(sc, args.folder, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
