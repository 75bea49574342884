"""The commands that talk to a running server over HTTP (through ``client.Client``): login,
upload, status. They need no database, only the server's address and a token:
``STAGECOACH_URL`` (default http://127.0.0.1:8000) and ``STAGECOACH_TOKEN``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stagecoach.client import DEFAULT_URL, Client, StagecoachError

UrlOpt = Annotated[str, typer.Option("--url", envvar="STAGECOACH_URL", help="The server.")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="STAGECOACH_TOKEN",
        help="A bearer token (`stagecoach login USER` prints one).",
        show_default=False,
    ),
]


def status_line(doc: dict[str, Any]) -> str:
    """One line of a status document, as a terminal shows it."""
    parts = [doc["status"]]
    if doc.get("current_stage") and doc["status"] in ("pending", "processing"):
        parts.append(doc["current_stage"])
    parts.append(f"{doc['progress']:g}%")
    if doc.get("eta_text"):
        parts.append(doc["eta_text"])
    elif doc["status"] != "processing" and doc.get("message"):
        parts.append(doc["message"])
    return " · ".join(parts)


def _client(url: str, token: str | None) -> Client:
    if not token:
        typer.echo(
            "no token: set STAGECOACH_TOKEN or pass --token (`stagecoach login USER` prints one)",
            err=True,
        )
        raise typer.Exit(2)
    return Client(url, token)


def _fail(exc: StagecoachError) -> typer.Exit:
    typer.echo(f"error: {exc.title}" + (f": {exc.detail}" if exc.detail else ""), err=True)
    return typer.Exit(1)


def _follow(client: Client, job_id: str, as_json: bool) -> int:
    """Print each change until the job ends; 0 when it completed, 1 otherwise."""

    def show(doc: dict[str, Any]) -> None:
        typer.echo(json.dumps(doc) if as_json else f"{job_id}  {status_line(doc)}")

    doc = client.wait(job_id, on_change=show)
    if doc["status"] != "completed" and doc.get("error") and not as_json:
        hint = doc["error"].get("hint")
        typer.echo(f"{doc['error'].get('message', '')}" + (f" {hint}" if hint else ""), err=True)
    return 0 if doc["status"] == "completed" else 1


def login(
    username: str,
    url: UrlOpt = DEFAULT_URL,
    password: Annotated[
        str | None,
        typer.Option(envvar="STAGECOACH_PASSWORD", help="Prompted when not given."),
    ] = None,
) -> None:
    """Sign in and print a token, for `export STAGECOACH_TOKEN=$(stagecoach login USER)`."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, err=True)
    try:
        with Client.login(url, username, password) as c:
            token = c.token
    except StagecoachError as exc:
        raise _fail(exc) from None
    typer.echo(token)


def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    case: Annotated[str | None, typer.Option(help="File the job under this case.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print status documents.")] = False,
) -> None:
    """Upload files as one job and print its id and status."""
    with _client(url, token) as client:
        try:
            doc = client.upload(files, case_name=case)
            typer.echo(json.dumps(doc) if as_json else f"{doc['job_id']}  {status_line(doc)}")
            if wait:
                raise typer.Exit(_follow(client, doc["job_id"], as_json))
        except StagecoachError as exc:
            raise _fail(exc) from None


def status(
    job_id: str,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the job until it ends (exit 1 unless done).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status document.")] = False,
) -> None:
    """Show where a job stands: status, stage, progress, time left."""
    with _client(url, token) as client:
        try:
            if watch:
                raise typer.Exit(_follow(client, job_id, as_json))
            doc = client.status(job_id)
        except StagecoachError as exc:
            raise _fail(exc) from None
    typer.echo(json.dumps(doc) if as_json else status_line(doc))


def register(app: typer.Typer) -> None:
    for command in (login, upload, status):
        app.command()(command)
