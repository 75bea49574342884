"""The `stagecoach` command: serve, worker, users, cleanup, status."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run no embedded worker.")] = False,
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
    app_ = create_app(settings, services=services, embedded_worker=not no_worker)
    console.print(f"stagecoach at http://{host or settings.host}:{port or settings.port}")
    uvicorn.run(app_, host=host or settings.host, port=port or settings.port,
                log_level="warning", access_log=False,
                # Pollers ask every few seconds: keep their connections open between asks.
                timeout_keep_alive=30, backlog=4096)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
