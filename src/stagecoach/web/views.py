"""What the pages show, worked out from a status document and a timeline; pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from stagecoach.domain.records import HistoryEntry

STATUS_LABELS = {
    "pending": "Waiting",
    "processing": "Processing",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "expired": "Expired",
}
STATUS_ICONS = {
    "pending": "\u25cb",  # white circle
    "processing": "\u21bb",  # clockwise arrow
    "completed": "\u2713",  # check mark
    "failed": "\u2715",  # cross
    "cancelled": "\u2298",  # circled slash
    "expired": "\u2013",
}
ACTIVE = frozenset({"pending", "processing"})

WHAT_TO_DO = {
    "input": "The file itself could not be processed. Check that it plays or opens on your "
    "computer, then upload it again (or a converted copy).",
    "processing": "Something went wrong while processing. Retrying usually helps; if it fails "
    "again, upload the file again.",
    "dependency": "A service stagecoach relies on was unavailable. Retry in a few minutes.",
    "internal": "stagecoach hit an internal problem. Retry; if it keeps failing, tell your "
    "administrator the job id.",
    "cancelled": "The job was cancelled. Upload the file again to start over.",
}


@dataclass(frozen=True)
class Step:
    name: str
    state: str  # done, current, failed, todo
    seconds: float | None


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.capitalize())


def stage_seconds(entries: list[HistoryEntry], doc: dict[str, Any]) -> dict[str, float]:
    """Seconds spent in each stage: the files' own stage timings added up where the worker
    kept them, else the time the stage was the job's current one while it was processing."""
    spent: dict[str, float] = {}
    current: tuple[str, datetime] | None = None
    for e in entries:
        if e.artifact_id is not None:  # a file's own entry; the job's stage did not move
            continue
        if current is not None and (e.stage != current[0] or e.status != "processing"):
            spent[current[0]] = spent.get(current[0], 0.0) + (e.at - current[1]).total_seconds()
            current = None
        if current is None and e.status == "processing" and e.stage:
            current = (e.stage, e.at)
    per_file: dict[str, float] = {}
    for art in doc.get("artifacts", []):
        for stage, secs in (art.get("processing_stages") or {}).items():
            per_file[stage] = per_file.get(stage, 0.0) + float(secs)
    return {**spent, **per_file}


def timeline_rows(entries: list[HistoryEntry], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline as the page lists it: a file's own entries carry the file's name."""
    names = {a["artifact_id"]: a["filename"] for a in doc.get("artifacts", [])}
    rows = []
    for e in entries:
        if e.kind == "created":
            what = "Created"
        elif e.kind == "stage":
            what = f"Stage: {e.stage}"
        else:
            what = status_label(e.status or "") + (f" ({e.stage})" if e.stage else "")
        file = names.get(e.artifact_id) if e.artifact_id else None
        note = e.message if e.message and e.kind != "created" else ""
        if file and note.lower() == f"{file}: {e.status}".lower():
            note = ""  # says nothing the row does not
        rows.append(
            {
                "at": e.at,
                "what": what,
                "file": file,
                "note": note,
                "attempt": e.attempt if e.attempt and e.attempt > 1 else None,
            }
        )
    return rows


def steps(doc: dict[str, Any], spent: dict[str, float]) -> list[Step]:
    """The stage stepper: finished stages with a check mark and their duration, the current
    one highlighted (or marked failed), the rest to do."""
    names: list[str] = list(doc.get("stages") or [])
    stage = doc.get("current_stage")
    if stage and stage not in names:
        names.append(stage)
    status = doc["status"]
    at = names.index(stage) if stage in names else (len(names) if status == "completed" else -1)
    out = []
    for i, name in enumerate(names):
        if status == "completed" or i < at:
            state = "done"
        elif i == at:
            state = (
                "failed" if status == "failed" else ("current" if status in ACTIVE else "stopped")
            )
        else:
            state = "todo"
        out.append(Step(name, state, spent.get(name) if state == "done" else None))
    return out


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def time_text(iso_text: str | None) -> str:
    """'2026-01-09T10:00:00.000Z' -> '2026-01-09 10:00:00 UTC'."""
    if not iso_text:
        return ""
    return iso_text.replace("T", " ")[:19] + " UTC"


def error_view(doc: dict[str, Any]) -> dict[str, Any] | None:
    """On failure: the cause in plain words, what to do next and whether Retry can help."""
    if doc["status"] not in ("failed", "cancelled"):
        return None
    err = doc.get("error") or {}
    category = err.get("category") or (
        "cancelled" if doc["status"] == "cancelled" else "processing"
    )
    attempts_left = doc.get("attempts", 0) < doc.get("max_attempts", 0)
    retryable = doc["status"] == "failed" and attempts_left
    return {
        "cause": err.get("message") or doc.get("message") or "Processing failed.",
        "hint": err.get("hint") or WHAT_TO_DO.get(category, WHAT_TO_DO["processing"]),
        "code": err.get("code"),
        "category": category,
        "retryable": retryable,
        "permanent": err.get("retryable") is False and doc["status"] == "failed",
        "attempts_left": max(0, doc.get("max_attempts", 0) - doc.get("attempts", 0)),
    }


def cases(docs: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Case names (most recently active first) with their jobs, newest first."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for d in sorted(docs, key=lambda d: d.get("created_at") or "", reverse=True):
        if d.get("case_name"):
            grouped.setdefault(d["case_name"], []).append(d)
    return list(grouped.items())


def file_counts(doc: dict[str, Any]) -> dict[str, int]:
    """Files of the job in all, done and failed: the document's counts where it has them,
    else counted from its artifacts."""
    arts = doc.get("artifacts") or []
    return {
        "total": int(doc.get("files_total", len(arts))),
        "done": int(doc.get("files_done", sum(1 for a in arts if a.get("status") == "completed"))),
        "failed": int(doc.get("files_failed", sum(1 for a in arts if a.get("status") == "failed"))),
    }


def outcome(doc: dict[str, Any]) -> str | None:
    """For a completed job: "partial" when some of its files failed, else "complete"."""
    if doc["status"] != "completed":
        return None
    if doc.get("outcome"):
        return str(doc["outcome"])
    return "partial" if file_counts(doc)["failed"] else "complete"


def estimating(doc: dict[str, Any]) -> bool:
    """Too little evidence for a time estimate yet: say "estimating…" rather than a number."""
    return doc.get("eta_confidence") == "estimating"


def jobs_ahead(doc: dict[str, Any]) -> int | None:
    """How many jobs are ahead of a waiting one (queue position 1 is next)."""
    pos = doc.get("queue_position")
    return max(0, int(pos) - 1) if pos else None


def restart_note(entries: list[HistoryEntry], doc: dict[str, Any]) -> dict[str, Any] | None:
    """When the job is on a later attempt (a retry, or work requeued after its worker
    stopped): when that attempt began, or that it waits to, so progress never jumps without
    a word. ``attempts`` counts the attempts begun: a waiting job's next one is one more."""
    used = doc.get("attempts") or 0
    most = doc.get("max_attempts") or used
    if doc["status"] == "pending" and used >= 1:
        return {"at": None, "attempt": min(used + 1, most), "max_attempts": most, "waiting": True}
    if doc["status"] != "processing" or used < 2:
        return None
    began = next(
        (
            e.at
            for e in entries
            if e.artifact_id is None and e.status == "processing" and (e.attempt or 0) >= used
        ),
        None,
    )
    if began is None:
        return None
    return {"at": began, "attempt": used, "max_attempts": most, "waiting": False}


def results_by_file(results: list[dict[str, Any]]) -> dict[str | None, list[dict[str, Any]]]:
    """Result files by the artifact (file) they came from; None for the job's own."""
    out: dict[str | None, list[dict[str, Any]]] = {}
    for r in results:
        out.setdefault(r.get("artifact_id"), []).append(r)
    for rows in out.values():
        rows.sort(key=lambda r: (not _is_transcript_text(r), r["name"]))
    return out


def _is_transcript_text(r: dict[str, Any]) -> bool:
    return str(r["name"]).endswith("transcript.txt")


def transcript_of(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first transcript (its plain-text form), for the inline preview."""
    return next((r for r in results if _is_transcript_text(r)), None)


def result_label(r: dict[str, Any]) -> str:
    """'transcript.srt' -> 'Transcript (.srt)'; other results by their name."""
    name = str(r["name"])
    stem, dot, ext = name.rpartition(".")
    if dot and stem.endswith("transcript"):
        return f"Transcript (.{ext})"
    return name


def case_totals(jobs: list[dict[str, Any]]) -> dict[str, int]:
    """A case's files in all, done and failed, over its jobs."""
    totals = {"files": 0, "done": 0, "failed": 0}
    for d in jobs:
        c = file_counts(d)
        totals["files"] += c["total"]
        totals["done"] += c["done"]
        totals["failed"] += c["failed"]
    return totals


def filter_query(**params: str | None) -> str:
    """The dashboard's address with these filters ('?status=failed&owner=ana'), empty ones
    left out."""
    kept = {k: v for k, v in params.items() if v}
    return "/?" + urlencode(kept) if kept else "/"


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def elapsed(doc: dict[str, Any], now: datetime) -> str:
    """How long the job has been (or was) processing: '4m 10s'; '—' before it started."""
    start = parse_iso(doc.get("started_at"))
    if start is None:
        return "—"
    end = parse_iso(doc.get("finished_at")) if doc["status"] not in ACTIVE else None
    return seconds_text(max(0.0, ((end or now) - start).total_seconds()))


def in_future(text: str | None, now: datetime) -> bool:
    """A time still ahead: an expected finish that has passed is not shown."""
    at = parse_iso(text)
    return at is not None and at > now
