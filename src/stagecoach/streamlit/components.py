"""Streamlit pieces over ``stagecoach.client``: a job's live status, its details, errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st

from stagecoach.client import ENDED, Client, StagecoachError

FINAL = {"completed": "Completed", "failed": "Failed", "cancelled": "Cancelled"}
ICON = {"completed": "✅", "failed": "❌", "cancelled": "⏹️", "expired": "⌛"}


def poll_seconds() -> float:
    """The polling interval: ``STAGECOACH_POLL_INTERVAL`` (default 5 s)."""
    from stagecoach.settings import Settings

    return float(Settings().poll_interval)


def show_problem(exc: StagecoachError) -> None:
    """A server's refusal (problem+json) as a Streamlit error with its hint; no traceback."""
    text = exc.detail or exc.title
    if exc.status == 0:
        text = f"Cannot reach the server: {exc.detail}"
    st.error(text, icon="⚠️")
    hint = exc.problem.get("hint")
    if exc.status == 401:
        hint = "Your sign-in has expired or was revoked: sign in again."
    if hint:
        st.caption(str(hint))


def attempt(call: Callable[[], Any]) -> Any | None:
    """``call()``, or None after showing the server's error."""
    try:
        return call()
    except StagecoachError as exc:
        show_problem(exc)
        return None


def stage_path(doc: dict[str, Any]) -> str:
    """'~~Uploading~~ → **Transcribing** → Analyzing → Completed/Failed': done stages struck,
    the current one in bold (struck too once the job completed), the end last."""
    stages = list(doc.get("stages") or [])
    current = doc.get("current_stage")
    if current and current not in stages:
        stages.append(current)
    status = doc["status"]
    if status == "completed":  # every stage ran, whatever stage the job last named
        return " → ".join([*(f"~~{n}~~" for n in stages), "**Completed**"])
    marked = []
    passed = current in stages
    for name in stages:
        if name == current:
            passed = False
            marked.append(f"**{name}**")
        else:
            marked.append(f"~~{name}~~" if passed else name)
    final = FINAL.get(status)
    marked.append(f"**{final}**" if final else "Completed/Failed")
    return " → ".join(marked)


def files_line(doc: dict[str, Any]) -> str | None:
    if "files_total" in doc:
        total, done, failed = doc["files_total"], doc["files_done"], doc["files_failed"]
    else:
        arts = doc.get("artifacts") or []
        total = len(arts)
        done = sum(a["status"] == "completed" for a in arts)
        failed = sum(a["status"] == "failed" for a in arts)
    if total <= 1:
        return None
    line = f"{done} of {total} files done"
    if failed:
        line += f", {failed} failed"
    if doc.get("outcome") == "partial":
        line += " (partial success)"
    return line


def render_status(doc: dict[str, Any]) -> None:
    """The job's status: the stage path, a progress bar, time left or the outcome, errors."""
    st.markdown(stage_path(doc))
    label = f"{doc['progress']:g}%"
    if doc.get("eta_text"):
        label += f" · {doc['eta_text']}"
    st.progress(min(1.0, doc["progress"] / 100), text=label)
    status = doc["status"]
    if status == "completed":
        st.success(f"{ICON['completed']} {doc['message']}")
        if doc.get("processing_duration") is not None:
            st.caption(f"Processed in {doc['processing_duration']:.1f} s")
    elif status in ("failed", "expired"):
        st.error(doc["message"])
        hint = (doc.get("error") or {}).get("hint")
        if hint:
            st.caption(hint)
    elif status == "cancelled":
        st.warning(doc["message"])
    else:
        st.info(doc["message"])
    if doc.get("stalled"):
        st.warning("No progress reported for a while: the job may be stuck.")
    line = files_line(doc)
    if line:
        st.caption(line)


def job_status(
    client: Client, job_id: str, *, interval: float | None = None
) -> dict[str, Any] | None:
    """A job's live status, polled every ``STAGECOACH_POLL_INTERVAL`` seconds (5 by default)
    until the job ends. Returns the status document (None after showing an error)."""
    every = interval or poll_seconds()
    doc = attempt(lambda: client.status(job_id))
    if doc is None:
        return None
    active = doc["status"] not in ENDED

    @st.fragment(run_every=every if active else None)
    def live() -> None:
        now = attempt(lambda: client.status(job_id))
        if now is None:
            return
        render_status(now)
        if active and now["status"] in ENDED:
            st.rerun()  # the whole page learns the end; polling stops

    live()
    return doc


def job_details(client: Client, doc: dict[str, Any]) -> None:
    """Each file's progress and stage timings, the timeline, Retry, downloads."""
    job_id = doc["job_id"]
    arts = doc.get("artifacts") or []
    if arts:
        st.subheader("Files")
        for a in arts:
            st.markdown(f"**{a['filename']}** · {a['status']} · {a.get('current_stage') or ''}")
            st.progress(min(1.0, a["progress"] / 100), text=f"{a['progress']:g}%")
            if a.get("processing_stages"):
                st.table(
                    [
                        {"stage": k, "seconds": round(v, 1)}
                        for k, v in a["processing_stages"].items()
                    ]
                )
            if a.get("error_message"):
                st.error(a["error_message"])
    if doc["status"] == "failed":
        if doc["attempts"] < doc["max_attempts"]:
            retry = st.button("Retry", key=f"retry-{job_id}", type="primary")
            if retry and attempt(lambda: client.retry(job_id)) is not None:
                st.rerun()
        else:
            st.caption("No attempts left: upload the file again.")
    if doc["status"] in ("completed", "failed"):
        results = attempt(lambda: client.results(job_id)) or []
        if results:
            st.subheader("Results")
        for r in results:
            name = str(r["name"])
            data = attempt(partial(client.result_bytes, job_id, name))
            if data is not None:
                st.download_button(
                    f"Download {name}",
                    data=data,
                    file_name=name,
                    mime=r["mime"],
                    key=f"dl-{job_id}-{name}",
                )
    entries = attempt(lambda: client.timeline(job_id)) or []
    with st.expander("Timeline"):
        st.table(
            [{k: e.get(k) for k in ("at", "kind", "status", "stage", "message")} for e in entries]
        )
