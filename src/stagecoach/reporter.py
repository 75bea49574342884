"""Report on a job from your own service: ``client.reporter(...)`` returns a ``Reporter``.

    with client.reporter(stages=["Fetching", "Crunching"], duration_total=120) as r:
        r.stage("Fetching", total=10)
        for _ in range(10):
            fetch_one()
            r.advance(1)
        r.stage("Crunching")
        r.progress(80)
    # leaving the block completes the job; an exception inside it fails the job

The caller's calls only change local state and return at once. One background thread sends
the latest state at most every ``min_interval`` seconds, so a tight loop costs the server one
report a second. Every report carries the whole state and a sequence number (``seq``, from
the clock in microseconds, rising), so the server ignores a repeat or an older report: a
resend after a network error, or a report from a previous run of your process, is harmless.
While the server cannot be reached the thread retries with backoff; ``complete`` and
``fail`` wait at most ``end_wait`` seconds for the server before returning, and the thread
keeps trying after that until ``close`` (or the end of the ``with`` block) gives up.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagecoach.client import Client

log = logging.getLogger("stagecoach.reporter")

MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class _State:
    status: str | None = None
    stage: str | None = None
    stage_index: int | None = None
    stage_total: float | None = None
    stage_done: float = 0.0
    units_done: float | None = None
    percent: float | None = None  # set by progress(); wins over counted units
    message: str | None = None
    error: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed")


class Reporter:
    """Reports one job's stage and progress to the server, throttled and in order."""

    def __init__(
        self,
        client: Client,
        job: dict[str, Any],
        *,
        min_interval: float = 1.0,
        end_wait: float = 2.0,
        request_timeout: float = 5.0,
    ) -> None:
        from stagecoach.client import Client

        self.job_id: str = job["job_id"]
        self.stages: list[str] = list(job.get("stages") or [])
        self.duration_total: float | None = job.get("duration_total")
        self.min_interval = min_interval
        self.end_wait = end_wait
        self.last_document: dict[str, Any] = job
        self.last_error: Exception | None = None  # the latest refusal or network failure
        # Its own connection, with a short timeout: a hung server never holds a report long.
        self._client = Client(client.base_url, client.token, timeout=request_timeout)
        self._state = _State(units_done=job.get("duration_processed"))
        self._sent: _State | None = None
        self._backlog: list[_State] = []  # stage changes not yet delivered, in order
        self._seq = 0
        self._lock = threading.Condition()
        self._closing = False
        self._give_up_at: float | None = None
        self._delivered_end = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reporter-{self.job_id}")
        self._thread.daemon = True
        self._thread.start()

    @classmethod
    def attach(cls, client: Client, job_id: str, **kwargs: Any) -> Reporter:
        """A reporter for a job created earlier (by this process or another)."""
        return cls(client, client.status(job_id), **kwargs)

    # --- what the caller says ------------------------------------------------------------
    def stage(self, name: str, total: float | None = None) -> None:
        """The job is now in stage ``name``; ``total``: units this stage will count."""
        index = self.stages.index(name) if name in self.stages else None
        with self._lock:
            self._set(
                replace(
                    self._state,
                    status="processing",
                    stage=name,
                    stage_index=index,
                    stage_total=total,
                    stage_done=0.0,
                    percent=None,
                )
            )
            # A stage change is history: it is sent even when later progress overtakes it.
            self._backlog.append(self._state)

    def advance(self, n: float = 1) -> None:
        """``n`` more units done (of the stage's ``total``, and of the job's duration_total)."""
        with self._lock:
            s = self._state
            self._set(
                replace(
                    s,
                    status="processing",
                    stage_done=s.stage_done + n,
                    units_done=(s.units_done or 0.0) + n,
                    percent=None,
                )
            )

    def progress(self, percent: float) -> None:
        """The job is ``percent`` (0-100) done, as you measure it."""
        self._update(status="processing", percent=max(0.0, min(100.0, float(percent))))

    def message(self, text: str) -> None:
        self._update(message=text)

    def complete(self, message: str | None = None) -> bool:
        """The job is done. True once the server has it (waits at most ``end_wait`` s)."""
        self._update(status="completed", message=message)
        return self._delivered_end.wait(self.end_wait)

    def fail(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        hint: str = "",
        category: str = "processing",
    ) -> bool:
        """The job failed with this cause. True once the server has it (at most ``end_wait``)."""
        error = {
            "code": code,
            "message": message,
            "retryable": retryable,
            "hint": hint,
            "category": category,
        }
        self._update(status="failed", error=error)
        return self._delivered_end.wait(self.end_wait)

    def close(self, timeout: float | None = None) -> None:
        """Send what is left (waiting at most ``timeout`` s, default ``end_wait``), then stop."""
        wait = self.end_wait if timeout is None else timeout
        with self._lock:
            self._closing = True
            self._give_up_at = time.monotonic() + wait
            self._lock.notify_all()
        self._thread.join(wait + 1)
        if not self._thread.is_alive():
            self._client.close()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._state.ended:
            if exc is None:
                self.complete()
            else:
                self.fail("exception", f"{type(exc).__name__}: {exc}", retryable=True)
        self.close()

    # --- the sending thread --------------------------------------------------------------
    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._set(replace(self._state, **changes))

    def _set(self, state: _State) -> None:
        if self._state.ended:
            log.warning("job %s has ended; report not sent", self.job_id)
            return
        self._state = state
        self._lock.notify_all()

    def _body(self, s: _State) -> dict[str, Any]:
        body: dict[str, Any] = {"status": s.status, "current_stage": s.stage}
        if s.status == "failed":
            return {"status": "failed", "error": s.error}
        if s.status == "completed":
            return {"status": "completed", "current_stage": s.stage, "message": s.message}
        percent = s.percent
        if percent is None and s.stage_total and s.stage_index is not None and self.stages:
            within = min(1.0, s.stage_done / s.stage_total)
            percent = (s.stage_index + within) / len(self.stages) * 100
        if percent is not None:
            body["progress"] = round(min(percent, 99.9), 2)
        if s.units_done is not None and self.duration_total:
            body["duration_processed"] = s.units_done
        if s.message is not None:
            body["message"] = s.message
        return body

    def _next_seq(self) -> int:
        # The clock, so a new process outranks an old one's reports; rising within one.
        self._seq = max(self._seq + 1, time.time_ns() // 1000)
        return self._seq

    def _run(self) -> None:
        from stagecoach.client import StagecoachError, Unreachable

        backoff = 0.0
        next_at = 0.0  # nothing is sent before this (monotonic) time
        body: dict[str, Any] | None = None
        seq = 0
        while True:
            with self._lock:
                while True:
                    while self._backlog and self._backlog[0] == self._sent:
                        self._backlog.pop(0)
                    state = self._backlog[0] if self._backlog else self._state
                    if state == self._sent:
                        if self._closing or state.ended:
                            return
                        self._lock.wait()
                        continue
                    now = time.monotonic()
                    urgent = (state.ended or self._closing or bool(self._backlog)) and not backoff
                    due = now if urgent else next_at
                    if self._give_up_at is not None and due > self._give_up_at:
                        return  # the server is away and the caller is done: give up
                    if due <= now:
                        break
                    self._lock.wait(due - now)
            new_body = self._body(state)
            if new_body != body:  # an exact repeat keeps its number: the server drops it
                body, seq = new_body, self._next_seq()
            try:
                doc: dict[str, Any] | None = self._client.report(self.job_id, **body, seq=seq)
            except StagecoachError as exc:
                self.last_error = exc
                if isinstance(exc, Unreachable) or exc.status >= 500:
                    backoff = min(max(backoff * 2, 0.25), MAX_BACKOFF)
                    next_at = time.monotonic() + backoff
                    log.info("report %s on job %s not delivered: %s", seq, self.job_id, exc)
                    continue
                # Refused (an ended job, an unknown one, a revoked token): resending won't help.
                log.warning("report on job %s refused: %s", self.job_id, exc)
                doc = None
            backoff = 0.0
            next_at = time.monotonic() + self.min_interval
            with self._lock:
                self._sent = state
                if self._backlog and self._backlog[0] is state:
                    self._backlog.pop(0)
                if doc is not None:
                    self.last_document = doc
                if state.ended:
                    self._delivered_end.set()
