"""The worker: claims files (artifacts) of the pipelines it has, one per slot, runs each in a
FileRunner thread, holds their leases, and runs the queue's housekeeping (expired leases,
stalls, retention). The files of one job run side by side when slots are free.

Threads, all daemons of one process:
- the claim loop (``run``), which starts a runner when a slot is free;
- the monitor, which renews leases (and the worker's heartbeat) every third of a lease and
  polls the held files' status twice a second, so a cancel stops the stage within 2 s;
- housekeeping, which requeues expired leases, flags stalls, and runs retention.
Stage code runs in child processes started by a forkserver (never ``fork`` from a threaded
process).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stagecoach.pipelines.base import Pipeline
from stagecoach.services.context import ServiceContext
from stagecoach.services.estimates import Estimates
from stagecoach.services.housekeeping import Housekeeping
from stagecoach.services.queue import Queue
from stagecoach.storage.base import Storage
from stagecoach.worker.child import StageHost
from stagecoach.worker.runner import FileRunner

log = logging.getLogger("stagecoach.worker")

MONITOR_TICK = 0.4  # seconds between cancel polls


def default_pipelines() -> dict[str, Pipeline]:
    """The installed pipelines (built-ins and the ``stagecoach.pipelines`` entry points)."""
    try:
        from stagecoach.pipelines.registry import load_pipelines  # type: ignore[import-not-found]
    except ImportError:
        log.warning("no pipeline registry found; this worker claims nothing")
        return {}
    return dict(load_pipelines())


def mp_context(preload: list[str] | None = None) -> Any:
    """forkserver where there is one (cheap starts, safe in a threaded parent), else spawn."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without it
        return multiprocessing.get_context("spawn")
    if preload:
        ctx.set_forkserver_preload(preload)
    return ctx


def stage_modules(pipelines: Mapping[str, Pipeline]) -> list[str]:
    """What the forkserver imports once, so a stage process starts in milliseconds: the
    stage modules, what a re-import of the main module (the CLI) would pull in, and what
    the stages import on first use (``Pipeline.preload``)."""
    return [
        "stagecoach.cli",
        "stagecoach.worker.worker",
        *sorted({s.run.__module__ for p in pipelines.values() for s in p.stages}),
        *sorted({m for p in pipelines.values() for m in p.preload}),
    ]


class Worker:
    def __init__(
        self,
        ctx: ServiceContext,
        storage: Storage,
        pipelines: Mapping[str, Pipeline] | None = None,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
        poll_interval: float = 0.25,
        housekeeping_interval: float | None = None,
        cleanups: Sequence[Callable[[], object]] = (),
    ) -> None:
        """``cleanups``: more to run with the retention cleanup, every
        ``cleanup_interval_seconds`` (the uploads' check for abandoned uploads)."""
        self.ctx = ctx
        self.cleanups = list(cleanups)
        self.settings = ctx.settings
        self.clock = ctx.clock
        self.storage = storage
        self.pipelines = dict(pipelines if pipelines is not None else default_pipelines())
        self.concurrency = concurrency or self.settings.worker_concurrency
        self.worker_id = worker_id or str(uuid.uuid4())
        self.poll_interval = poll_interval
        lease = self.settings.lease_seconds
        self.housekeeping_interval = housekeeping_interval or max(0.5, min(lease / 2, 10.0))
        # Estimates over the pipelines this worker runs (plugins and test pipelines included).
        estimates = Estimates(ctx, self.pipelines)
        self.queue = Queue(ctx, storage, estimates)
        self.housekeeping = Housekeeping(ctx, storage, estimates)
        self.mp_context = mp_context(stage_modules(self.pipelines))
        self.runners: dict[str, FileRunner] = {}  # by artifact id
        self._hosts: list[StageHost] = []  # idle stage processes, reused
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._slot_free = threading.Event()
        self._threads: list[threading.Thread] = []
        self.jobs_run = 0
        self.progress_calls = 0

    @property
    def idle_stage_pids(self) -> list[int]:
        """Process ids of the stage processes waiting for a file."""
        with self._lock:
            return [h.proc.pid for h in self._hosts]

    @property
    def stage_names(self) -> dict[str, list[str]]:
        return {name: p.stage_names for name, p in self.pipelines.items()}

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Run in background threads (the embedded worker of `stagecoach serve`)."""
        self._register()
        loops = [
            (self._claim_loop, "claim"),
            (self._monitor, "monitor"),
            (self._housekeeping, "housekeeping"),
        ]
        if self.queue.can_listen_for_work:
            loops.append((self._listen_for_work, "listen"))
        loops.append((self._prewarm, "prewarm"))
        for target, name in loops:
            t = threading.Thread(target=target, name=f"worker-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def run(self) -> None:
        """Run in the calling thread until ``stop()`` (`stagecoach worker`)."""
        self.start()
        while not self._stop.wait(0.5):
            pass
        self._shutdown()

    def request_stop(self) -> None:
        """Ask ``run()`` to return (safe from a signal handler)."""
        self._stop.set()
        self._slot_free.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, give running files back (pending, attempt not counted), wait."""
        self.request_stop()
        self._shutdown(timeout)

    _shut = False

    def _shutdown(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._shut:
                return
            self._shut = True
            runners = list(self.runners.values())
        # An idle claim loop waits on the work signal: wake it to see the stop. (Not from
        # request_stop, which a signal handler calls: it must not take the signal's lock.)
        self.ctx.work_ready.notify()
        for r in runners:
            r.set_state("stopping")
        deadline = time.monotonic() + timeout
        for r in runners:
            r.thread.join(max(0.1, deadline - time.monotonic()))
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        with self._lock:
            hosts, self._hosts = self._hosts, []
        for h in hosts:
            h.close(grace=1.0)
        try:
            self.queue.stop_worker(self.worker_id)
        except Exception:
            log.exception("could not mark the worker stopped", extra={"worker_id": self.worker_id})

    def _register(self) -> None:
        self.queue.register_worker(
            self.worker_id,
            socket.gethostname(),
            os.getpid(),
            sorted(self.pipelines),
            self.concurrency,
        )

    # --- claim loop ----------------------------------------------------------------------
    def _claim_loop(self) -> None:
        names = self.stage_names
        while not self._stop.is_set():
            with self._lock:
                free = self.concurrency - len(self.runners)
            if free <= 0:
                self._slot_free.wait(1.0)
                self._slot_free.clear()
                continue
            seen = self.ctx.work_ready.generation
            try:
                claim = self.queue.claim(self.worker_id, names) if names else None
            except Exception:
                log.exception("claim failed", extra={"worker_id": self.worker_id})
                claim = None
                self._stop.wait(1.0)
            if claim is None:
                self.ctx.work_ready.wait(seen, self.poll_interval)
                continue
            runner = FileRunner(self, claim, self.pipelines[claim.artifact.pipeline or ""])
            with self._lock:
                self.runners[runner.artifact_id] = runner
            if self._stop.is_set():
                runner.set_state("stopping")
            runner.thread.start()

    def _listen_for_work(self) -> None:
        """PostgreSQL: wake the claim loop when any process makes a job claimable (an
        upload completes, a job is retried or given back), rather than at its next poll."""
        self.queue.listen_for_work(self._stop)

    # --- stage processes -----------------------------------------------------------------
    def acquire_host(self) -> StageHost:
        with self._lock:
            while self._hosts:
                host = self._hosts.pop()
                if host.reusable:
                    return host
                host.close()
        s = self.settings
        return StageHost(
            self.mp_context, s.stage_memory_mb, s.stage_host_recycle_mb, s.stage_niceness
        )

    def release_host(self, host: StageHost, *, reuse: bool) -> None:
        if reuse and host.reusable:
            with self._lock:
                if not self._stop.is_set():  # under the lock: shutdown collects the hosts
                    self._hosts.append(host)
                    return
        host.close()

    def _prewarm(self) -> None:
        """Start one stage process (and the forkserver, with the stage modules) before the
        first file comes, so the first file does not wait half a second for imports."""
        try:
            self.release_host(self.acquire_host(), reuse=True)
        except Exception:  # the first file will start its own, and say what went wrong
            log.warning("could not start a stage process ahead of work", exc_info=True)

    def runner_done(self, runner: FileRunner) -> None:
        with self._lock:
            self.runners.pop(runner.artifact_id, None)
            self.jobs_run += 1
            self.progress_calls += runner.progress_calls
        self._slot_free.set()

    # --- monitor -------------------------------------------------------------------------
    def _monitor(self) -> None:
        renew_every = self.settings.lease_seconds / 3
        last_renew = 0.0
        while not self._stop.wait(min(MONITOR_TICK, renew_every)):
            with self._lock:
                held = {r.artifact_id: r.token for r in self.runners.values()}
            now = time.monotonic()
            renew = now - last_renew >= renew_every
            try:
                if held:
                    states = self.queue.check_leases(self.worker_id, held, renew=renew)
                    with self._lock:
                        for artifact_id, state in states.items():
                            r = self.runners.get(artifact_id)
                            if (
                                r is not None
                                and r.token == held[artifact_id]
                                and state not in ("ok", "ended")
                            ):
                                r.set_state(state)
                elif renew:
                    self.queue.heartbeat_worker(self.worker_id)
                if renew:
                    last_renew = now
            except Exception:
                log.exception("lease check failed", extra={"worker_id": self.worker_id})

    # --- housekeeping --------------------------------------------------------------------
    def _housekeeping(self) -> None:
        last_cleanup = time.monotonic()
        while not self._stop.wait(self.housekeeping_interval):
            try:
                self.housekeeping.requeue_expired()
                self.housekeeping.flag_stalls()
                if time.monotonic() - last_cleanup >= self.settings.cleanup_interval_seconds:
                    last_cleanup = time.monotonic()
                    self.housekeeping.cleanup()
                    for task in self.cleanups:
                        task()
            except Exception:
                log.exception("housekeeping failed", extra={"worker_id": self.worker_id})
