"""The `stagecoach` command: serve, worker, users, cleanup; and, over HTTP to a running
server, login, upload and status (cli_remote)."""

from __future__ import annotations

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
    logs.configure(settings.log_level, settings.log_format)
    services = _services(settings)
    generated = services.accounts.ensure_admin()
    if generated:
        console.print(
            f"[bold]Created account 'admin' with password:[/bold] {generated}\n"
            "(shown once; set STAGECOACH_ADMIN_PASSWORD to choose it)"
        )
    app_ = create_app(
        settings, services=services, embedded_worker=not no_worker, pipelines=_pipelines(pipelines)
    )
    console.print(f"stagecoach at http://{host or settings.host}:{port or settings.port}")
    uvicorn.run(
        app_,
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        access_log=False,
        # Pollers ask every few seconds: keep their connections open between asks.
        timeout_keep_alive=30,
        backlog=4096,
    )


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


cli_remote.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
