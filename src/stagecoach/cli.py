"""The `stagecoach` command: serve, worker, users, cleanup, streamlit; and the commands
that talk to a running server over HTTP (cli_remote: login, upload, status, jobs, ...)."""

from __future__ import annotations

import gc
import os
import socket
from typing import Annotated

import typer
from rich.console import Console

from stagecoach import cli_remote
from stagecoach.settings import Settings

app = typer.Typer(help="stagecoach: track files through processing.", no_args_is_help=True)
users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
console = Console()
err = Console(stderr=True)


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    from stagecoach.services.context import ServiceContext
    from stagecoach.services.registry import Services
    from stagecoach.store import migrate

    ctx = ServiceContext.from_settings(settings)
    migrate.upgrade(ctx.db.engine)
    return Services(ctx)


PipelinesOpt = Annotated[
    str | None,
    typer.Option(
        "--pipelines",
        help="MODULE:ATTR of a dict of pipelines to run instead of the installed ones "
        "(development and tests; plugins use the `stagecoach.pipelines` entry points).",
    ),
]


def _pipelines(spec: str | None):  # type: ignore[no-untyped-def]
    if spec is None:
        return None
    import importlib

    module, _, attr = spec.partition(":")
    found = getattr(importlib.import_module(module), attr or "PIPELINES")
    return dict(found() if callable(found) else found)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run no embedded worker.")] = False,
    pipelines: PipelinesOpt = None,
) -> None:
    """Run the API and pages (and, unless --no-worker, a worker) over the configured database."""
    import uvicorn

    from stagecoach import logs
    from stagecoach.app import create_app

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    # Listen first: a taken port fails in one line, before the database, the admin or a worker.
    try:
        sock = _listen(host, port)
    except OSError as exc:
        # the system's words ("Address already in use"), without the bind call's decoration
        why = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror or str(exc)
        err.print(
            f"[red]error:[/red] cannot listen on {host}:{port}: {why} "
            "(choose another with --port or STAGECOACH_PORT)",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    logs.configure(settings.log_level, settings.log_format)
    missing = settings.shared_secret_missing()
    if missing is not None:  # before touching the database
        err.print(f"[red]error:[/red] {missing}")
        raise typer.Exit(2)
    services = _services(settings)
    generated = services.accounts.ensure_admin()
    if generated:
        console.print(
            f"[bold]Created account 'admin' with password:[/bold] {generated}\n"
            "(shown once; set STAGECOACH_ADMIN_PASSWORD to choose it)"
        )
    chosen = _pipelines(pipelines)
    if chosen is not None:  # uploads name them too, with or without the embedded worker
        services.pipelines = chosen
    app_ = create_app(settings, services=services, embedded_worker=not no_worker, pipelines=chosen)
    console.print(f"stagecoach at http://{host}:{port}")
    config = uvicorn.Config(
        app_,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # Pollers ask every few seconds: keep their connections open between asks.
        timeout_keep_alive=30,
        backlog=4096,
    )
    # What is loaded by now (modules, the app, the engine) lives as long as the process:
    # kept out of the garbage collector's full passes, which otherwise walk it all and
    # pause every request (55 ms a pass on a small machine; a few ms frozen).
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, as uvicorn would make it."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=4096)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default: STAGECOACH_WORKER_CONCURRENCY).")
    ] = None,
    pipelines: PipelinesOpt = None,
) -> None:
    """Run a worker: claim jobs from the database, process them, until SIGTERM or Ctrl-C."""
    import signal

    from stagecoach import logs
    from stagecoach.worker.worker import Worker

    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    services = _services(settings)
    w = Worker(
        services.ctx,
        services.storage,
        _pipelines(pipelines),
        concurrency=concurrency,
        cleanups=[services.uploads.fail_abandoned],
    )
    if not w.pipelines:
        err.print("[yellow]warning:[/yellow] no pipelines installed; this worker claims nothing")

    def on_signal(signum: int, _frame: object) -> None:
        w.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    console.print(
        f"worker {w.worker_id} running {', '.join(sorted(w.pipelines)) or 'nothing'} "
        f"with concurrency {w.concurrency}"
    )
    calibration = None
    if settings.calibrate:
        from stagecoach.services.calibration import Calibration

        calibration = Calibration(services.ctx, w.pipelines)
        calibration.start()
    try:
        w.run()
    finally:
        if calibration is not None:
            calibration.stop()


@app.command()
def cleanup(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Retention: remove the history, results and files of jobs that ended more than
    STAGECOACH_RETENTION_DAYS ago, keeping a summary so their status says 'expired'."""
    settings = Settings()
    services = _services(settings)
    report = services.housekeeping.cleanup(dry_run=dry_run)
    verb = "would expire" if dry_run else "expired"
    console.print(
        f"{verb} {len(report.jobs)} job(s): {report.results} result file(s), "
        f"{report.files} stored file(s) (older than {settings.retention_days:g} days)"
    )
    for job_id in report.jobs:
        console.print(f"  {job_id}")
    if not dry_run:
        abandoned = services.uploads.fail_abandoned()
        console.print(f"failed {abandoned} upload(s) abandoned mid-way by a stopped server")


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, manager or admin.")] = "analyst",
    manager: Annotated[str | None, typer.Option(help="Username of their manager.")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password (prompted when not given).", envvar="STAGECOACH_NEW_PASSWORD"),
    ] = None,
) -> None:
    """Create an account."""
    from stagecoach.services.errors import ServiceError

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = _services(Settings())
    try:
        user = services.accounts.create_user(name, password, role, manager)
    except ServiceError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    console.print(f"created {user.role} '{user.username}'")


@users_app.command("list")
def users_list() -> None:
    """List accounts."""
    services = _services(Settings())
    for u in services.accounts.list_users():
        typer.echo(f"{u.username}\t{u.role}")  # tab-separated, for scripts


@app.command("streamlit")
def streamlit_app(
    url: Annotated[
        str | None,
        typer.Option(envvar="STAGECOACH_URL", help="The server (default http://127.0.0.1:8000)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port the Streamlit app listens on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address the Streamlit app listens on.")] = "127.0.0.1",
) -> None:
    r"""Run the Streamlit front end (needs `pip install 'stagecoach\[streamlit]'`)."""
    import importlib.util
    import os
    import sys
    from pathlib import Path

    if importlib.util.find_spec("streamlit") is None:
        err.print("Streamlit is not installed: pip install 'stagecoach[streamlit]'", markup=False)
        raise typer.Exit(2)
    script = Path(__file__).parent / "streamlit" / "app.py"
    env = dict(os.environ)
    if url:
        env["STAGECOACH_URL"] = url
    args = [sys.executable, "-m", "streamlit", "run", str(script)]
    args += ["--server.port", str(port), "--server.address", host, "--server.headless", "true"]
    args += ["--browser.gatherUsageStats", "false", "--global.developmentMode", "false"]
    args += ["--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    # This process becomes Streamlit's: signals (Ctrl-C, SIGTERM) reach it directly.
    os.execve(sys.executable, args, env)


cli_remote.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
