"""How the remote commands show things: Rich on a terminal, plain lines when piped.

Plain output is for scripts: one line per thing, fields separated by tabs, no colour.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "pending": "cyan",
    "processing": "blue",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "expired": "dim",
}


def status_line(doc: dict[str, Any]) -> str:
    """One line of a status document, as a terminal shows it."""
    parts = [doc["status"]]
    if doc.get("outcome") == "partial":
        parts[0] = f"{doc['status']} (partial)"
    if doc.get("current_stage") and doc["status"] in ("pending", "processing"):
        parts.append(doc["current_stage"])
    parts.append(f"{doc['progress']:g}%")
    if doc.get("eta_text"):
        parts.append(doc["eta_text"])
    elif doc["status"] != "processing" and doc.get("message"):
        parts.append(doc["message"])
    counts = file_counts(doc)
    if counts and counts[0] > 1:
        total, done, failed = counts
        parts.append(f"{done}/{total} files done" + (f", {failed} failed" if failed else ""))
    return " · ".join(parts)


def file_counts(doc: dict[str, Any]) -> tuple[int, int, int] | None:
    """(files_total, files_done, files_failed): the server's, or counted from the artifacts."""
    if "files_total" in doc:
        return int(doc["files_total"]), int(doc["files_done"]), int(doc["files_failed"])
    arts = doc.get("artifacts") or []
    if not arts:
        return None
    done = sum(a["status"] == "completed" for a in arts)
    failed = sum(a["status"] == "failed" for a in arts)
    return len(arts), done, failed


class Show:
    """Where output goes, and whether it may be rich."""

    def __init__(self, as_json: bool = False, console: Console | None = None) -> None:
        self.out = console or Console()
        self.err = Console(stderr=True)
        self.as_json = as_json
        self.rich = self.out.is_terminal and not as_json

    def json(self, value: Any) -> None:
        self.out.print_json(json.dumps(value)) if self.rich else print(json.dumps(value))

    def line(self, text: str) -> None:
        print(text, flush=True)

    def error(self, text: str) -> None:
        self.err.print("[red]error:[/red]", Text(text), highlight=False, soft_wrap=True)

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not self.rich:
            for row in rows:
                self.line("\t".join("" if v is None else str(v) for v in row))
            return
        t = Table(highlight=False, box=box.SIMPLE_HEAD, pad_edge=False)
        for i, name in enumerate(columns):
            # The first column is the id people copy: never shortened; only the last (the
            # words) wraps.
            width = max((len(str(r[0])) for r in rows), default=0) if i == 0 else None
            t.add_column(name, min_width=width, no_wrap=i < len(columns) - 1)
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
        self.out.print(t)

    def when(self, stamp: str | None) -> str | None:
        """A time as the API has it; to the minute on a terminal."""
        return stamp[:16].replace("T", " ") if stamp and self.rich else stamp

    def status(self, doc: dict[str, Any]) -> None:
        if self.as_json:
            return self.json(doc)
        if not self.rich:
            return self.line(status_line(doc))
        style = STATUS_STYLE.get(doc["status"], "")
        self.out.print(
            f"[bold]{doc['job_id']}[/bold]  [{style}]{status_line(doc)}[/{style}]",
            highlight=False,
        )
        for a in doc.get("artifacts") or []:
            stage = a.get("current_stage") or ""
            self.out.print(
                f"  {a['filename']}  {a['status']}  {stage}  {a['progress']:g}%", highlight=False
            )
        self.explain(doc)

    def explain(self, doc: dict[str, Any]) -> None:
        """A failed job's cause and what to do, on stderr."""
        err = doc.get("error")
        if doc["status"] in ("failed", "expired") and err:
            hint = err.get("hint")
            self.err.print(
                f"{doc.get('message') or err.get('message', '')}"
                + (f"\nhint: {hint}" if hint else ""),
                highlight=False,
                markup=False,
            )


class UploadBars:
    """A bar per file while its bytes go out (terminal only)."""

    def __init__(self, show: Show, names: Sequence[str]) -> None:
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if show.rich:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=show.err,
                transient=True,
            )
            self.tasks = {n: self.progress.add_task(n, total=None) for n in names}

    def __enter__(self) -> UploadBars:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, name: str, sent: int, size: int) -> None:
        if self.progress is not None and name in self.tasks:
            self.progress.update(self.tasks[name], completed=sent, total=size)


class JobBars:
    """Live bars of a job being followed: one per file, one for the job (terminal only);
    piped, one line per change."""

    def __init__(self, show: Show, job_id: str) -> None:
        self.show, self.job_id = show, job_id
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if show.rich:
            self.progress = Progress(
                TextColumn("{task.description}", justify="left"),
                TextColumn("[dim]{task.fields[stage]}[/dim]"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[note]}"),
                console=show.out,
            )

    def __enter__(self) -> JobBars:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, doc: dict[str, Any]) -> None:
        if self.show.as_json:
            return self.show.json(doc)
        if self.progress is None:
            return self.show.line(f"{self.job_id}  {status_line(doc)}")
        self._bar("job", f"job {self.job_id[:8]}", doc, note=_job_note(doc))
        for a in doc.get("artifacts") or []:
            note = a["status"] if a["status"] != "processing" else ""
            if a.get("error_message") and a["status"] == "failed":
                note = f"[red]failed[/red]: {a['error_message']}"
            self._bar(a["artifact_id"], f"  {a['filename']}", a, note=note)

    def _bar(self, key: str, label: str, d: dict[str, Any], note: str) -> None:
        assert self.progress is not None
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=100, stage="", note="")
        running = d["status"] in ("pending", "processing")
        self.progress.update(
            self.tasks[key],
            completed=d["progress"],
            stage=(d.get("current_stage") or "") if running else "",
            note=note,
        )


def _job_note(doc: dict[str, Any]) -> str:
    style = STATUS_STYLE.get(doc["status"], "")
    text = doc.get("eta_text") or doc["status"]
    counts = file_counts(doc)
    if counts and counts[0] > 1:
        text += f" · {counts[1]}/{counts[0]} files done" + (
            f", {counts[2]} failed" if counts[2] else ""
        )
    if doc.get("outcome") == "partial":
        text += " · partial"
    return f"[{style}]{text}[/{style}]"
