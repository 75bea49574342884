"""Stage processes: they run at a lower CPU priority than the worker (``stage_niceness``), so
a heavy stage leaves the status answers beside it on the same machine fast; and a started
worker has one ready before its first file, so that file does not wait for the imports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagecoach.services.context import ServiceContext
from stagecoach.services.registry import Services
from stagecoach.worker.worker import Worker
from tests.worker.pipelines import PIPELINES
from tests.worker.stage_hosts import artifact, run_on


def _niceness_of_a_stage_host(make_settings, tmp_path: Path, **settings: int) -> int:
    services = Services(ServiceContext.from_settings(make_settings(**settings)))
    worker = Worker(services.ctx, services.storage, PIPELINES)
    host = worker.acquire_host()
    try:
        # the host lowers its priority before it takes its first task
        assert run_on(host, artifact(tmp_path, mb=1))[0] == "done"
        return os.getpriority(os.PRIO_PROCESS, host.proc.pid) - os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        host.close()
        services.ctx.db.dispose()


def test_stage_processes_run_at_the_configured_lower_priority(make_settings, tmp_path):
    if os.getpriority(os.PRIO_PROCESS, 0) > 12:
        pytest.skip("this process is already too nice to be made 7 nicer")
    assert _niceness_of_a_stage_host(make_settings, tmp_path, stage_niceness=7) == 7


def test_niceness_zero_leaves_the_priority_alone(make_settings, tmp_path):
    assert _niceness_of_a_stage_host(make_settings, tmp_path, stage_niceness=0) == 0


def test_a_started_worker_has_a_stage_process_ready_before_the_first_file(wservices, start_worker):
    from tests.worker.conftest import wait_for

    worker = start_worker()
    pids = wait_for(lambda: worker.idle_stage_pids, timeout=30)
    assert len(pids) == 1 and _alive(pids[0])
    worker.stop(timeout=5)
    assert worker.idle_stage_pids == []
    wait_for(lambda: not _alive(pids[0]), timeout=10)  # stopped with the worker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child that has exited but not been reaped is gone too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False
