"""`stagecoach cleanup` and `stagecoach worker` from the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from stagecoach.cli import app
from tests.worker.conftest import wait_for
from tests.worker.procs import env_for, start_worker


def test_cleanup_dry_run_and_real(wsettings, wservices, owner, make_job, monkeypatch):
    job_id = make_job("trivial")
    for k, v in env_for(wsettings, STAGECOACH_RETENTION_DAYS="-1").items():
        if k.startswith("STAGECOACH_"):
            monkeypatch.setenv(k, v)
    runner = CliRunner()
    r = runner.invoke(app, ["cleanup", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "would expire 0 job(s)" in r.output  # pending: active jobs are never touched
    wservices.tracking.cancel(owner, job_id)
    r = runner.invoke(app, ["cleanup", "--dry-run"])
    assert "would expire 1 job(s)" in r.output and job_id in r.output
    assert wservices.tracking.status(owner, job_id)["status"] == "cancelled"
    r = runner.invoke(app, ["cleanup"])
    assert r.exit_code == 0 and "expired 1 job(s)" in r.output
    assert "failed 0 upload(s) abandoned" in r.output
    assert wservices.tracking.status(owner, job_id)["status"] == "expired"


def test_worker_command_processes_and_stops_on_sigterm(
    wsettings, wservices, owner, make_job, tmp_path
):
    job_id = make_job("trivial")
    w = start_worker(wsettings, tmp_path / "w.log", concurrency=3)
    try:
        wait_for(
            lambda: wservices.tracking.status(owner, job_id)["status"] == "completed", timeout=40
        )
    finally:
        code = w.stop()
    assert code == 0
    out = (tmp_path / "w.log").read_text()
    assert "with concurrency 3" in out and '"msg": "worker stopped"' in out
    assert wservices.queue.live_workers() == []
