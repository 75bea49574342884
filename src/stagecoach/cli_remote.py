"""The commands that talk to a running server over HTTP (through ``client.Client``).

They need no database, only the server's address and a token. ``stagecoach login`` stores
both in the user's config directory (``credentials.json``, mode 0600); ``STAGECOACH_URL``
and ``STAGECOACH_TOKEN`` (or ``--url`` and ``--token``) override what is stored.

Exit codes: 0 done; with ``--wait``/``--watch`` 1 failed, 2 cancelled, 3 completed with some
files failed (partial); 2 a usage error (a missing file, no token); 4 the server refused or
could not be reached. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer

from stagecoach.cli_show import JobBars, Show, UploadBars, status_line
from stagecoach.client import (
    DEFAULT_URL,
    Client,
    StagecoachError,
    Unauthorized,
)

__all__ = ["register", "status_line"]

EXIT_FAILED, EXIT_CANCELLED, EXIT_PARTIAL, EXIT_USAGE, EXIT_REFUSED = 1, 2, 3, 2, 4

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="STAGECOACH_URL",
        help=f"The server (default: the one you logged in to, else {DEFAULT_URL}).",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="STAGECOACH_TOKEN",
        help="A bearer token (default: the one `stagecoach login` stored).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the server's JSON, for scripts.")]


# --- stored login -------------------------------------------------------------------------
def credentials_path() -> Path:
    """``$XDG_CONFIG_HOME/stagecoach/credentials.json`` (on Linux; the platform's config
    directory elsewhere)."""
    return Path(click.get_app_dir("stagecoach")) / "credentials.json"


def load_credentials() -> dict[str, str]:
    try:
        found = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def save_credentials(url: str, token: str, username: str) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token, "username": username}, f)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None


def target(url: str | None, token: str | None) -> Target:
    stored = load_credentials()
    same_server = url is None or url.rstrip("/") == stored.get("url", "").rstrip("/")
    return Target(
        url=url or stored.get("url") or DEFAULT_URL,
        token=token or (stored.get("token") if same_server else None),
    )


# --- errors: one line, an exit code -------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def clear_errors(command: F) -> F:
    """Server refusals, network failures and file errors: one line on stderr, exit 4."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        show = Show()
        try:
            return command(*args, **kwargs)
        except Unauthorized as exc:
            show.error(f"{exc.detail or exc.title} (sign in again: stagecoach login)")
        except StagecoachError as exc:
            show.error(f"{exc.title}" + (f": {exc.detail}" if exc.detail else ""))
        except OSError as exc:
            show.error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        raise typer.Exit(EXIT_REFUSED)

    return run  # type: ignore[return-value]


def _client(url: str | None, token: str | None) -> Client:
    t = target(url, token)
    if not t.token:
        Show().error(
            "not signed in: run `stagecoach login` (or set STAGECOACH_TOKEN, or pass --token)"
        )
        raise typer.Exit(EXIT_USAGE)
    return Client(t.url, t.token)


def exit_code(doc: dict[str, Any]) -> int:
    """What a followed job's end means to a script."""
    if doc["status"] == "completed":
        return EXIT_PARTIAL if doc.get("outcome") == "partial" else 0
    return EXIT_CANCELLED if doc["status"] == "cancelled" else EXIT_FAILED


def _follow(client: Client, job_id: str, show: Show) -> int:
    """Show each change until the job ends (live bars on a terminal); its exit code."""
    with JobBars(show, job_id) as bars:
        doc = client.wait(job_id, on_change=bars)
    if not show.as_json:
        show.explain(doc)
    return exit_code(doc)


# --- commands -----------------------------------------------------------------------------
@clear_errors
def login(
    username: Annotated[str | None, typer.Argument(help="Prompted when not given.")] = None,
    url: UrlOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    print_token: Annotated[
        bool, typer.Option("--print-token", help="Also print the token on stdout.")
    ] = False,
) -> None:
    """Sign in and store the server and token for the other commands (mode 0600)."""
    url = url or load_credentials().get("url") or DEFAULT_URL
    if username is None:
        username = typer.prompt("Username", err=True)
    password = os.environ.get("STAGECOACH_PASSWORD")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = typer.prompt("Password", hide_input=True, err=True)
    try:
        with Client.login(url, username, password) as c:
            token = str(c.token)
    except Unauthorized as exc:  # wrong password: no "sign in again" advice
        raise StagecoachError(exc.status, exc.title, exc.detail) from None
    path = save_credentials(url, token, username)
    Show().err.print(f"signed in as {username} at {url} (stored in {path})", highlight=False)
    if print_token:
        print(token)


@clear_errors
def logout(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Revoke the token on the server and forget it here."""
    t = target(url, token)
    if t.token:
        # Already revoked or expired: forgetting it is all that is left to do.
        with Client(t.url, t.token) as c, contextlib.suppress(Unauthorized):
            c.logout()
    stored = credentials_path()
    if stored.exists() and load_credentials().get("token") in (t.token, None, ""):
        stored.unlink()
    Show().err.print(f"signed out of {t.url}", highlight=False)


@clear_errors
def whoami(url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Who is signed in, and where."""
    with _client(url, token) as c:
        me = c.me()
    show = Show(as_json)
    if as_json:
        return show.json({**me, "url": c.base_url})
    show.line(f"{me['username']} ({me['role']}) at {c.base_url}")


@clear_errors
def upload(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, readable=True, metavar="FILE...", show_default=False
        ),
    ],
    url: UrlOpt = None,
    token: TokenOpt = None,
    case: Annotated[str | None, typer.Option(help="File the job under this case.")] = None,
    parent: Annotated[
        str | None, typer.Option(help="The job this one extends (same case).")
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option(help="Force a pipeline (default: by file type).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job until it ends; exit code says how.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Upload files as one job and print its id and status."""
    show = Show(as_json)
    with _client(url, token) as client:
        with UploadBars(show, [f.name for f in files]) as bars:
            doc = client.upload(
                files, case_name=case, parent_job_id=parent, pipeline=pipeline, on_progress=bars
            )
        if as_json:
            show.json(doc)
        else:
            show.line(f"{doc['job_id']}  {status_line(doc)}")
        if wait:
            raise typer.Exit(_follow(client, doc["job_id"], show))


@clear_errors
def status(
    job_id: str,
    url: UrlOpt = None,
    token: TokenOpt = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the job until it ends; exit code says how.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show where a job stands: status, stage, progress, time left."""
    show = Show(as_json)
    with _client(url, token) as client:
        if watch:
            raise typer.Exit(_follow(client, job_id, show))
        doc = client.status(job_id)
    show.status(doc)


@clear_errors
def jobs(
    url: UrlOpt = None,
    token: TokenOpt = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only jobs in this status (pending, processing, completed, ...)."),
    ] = None,
    case: Annotated[str | None, typer.Option(help="Only the jobs of this case.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the jobs you may see, newest first."""
    show = Show(as_json)
    with _client(url, token) as client:
        page = client.jobs(status=status, case_name=case, limit=limit)
    if as_json:
        return show.json(page)
    show.table(
        ["job", "status", "stage", "progress", "case", "created", "note"],
        [
            (
                d["job_id"],
                d["status"],
                d.get("current_stage") if d["status"] in ("pending", "processing") else "",
                f"{d['progress']:g}%",
                d.get("case_name"),
                show.when(d.get("created_at")),
                d.get("eta_text") or d.get("message"),
            )
            for d in page["jobs"]
        ],
    )
    if show.rich and page["total"] > len(page["jobs"]):
        show.err.print(f"{len(page['jobs'])} of {page['total']} shown (--limit)")


@clear_errors
def timeline(
    job_id: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Every status and stage change of a job, in order."""
    show = Show(as_json)
    with _client(url, token) as client:
        entries = client.timeline(job_id)
    if as_json:
        return show.json({"job_id": job_id, "entries": entries})
    show.table(
        ["at", "kind", "status", "stage", "attempt", "message"],
        [
            (
                e["at"],
                e["kind"],
                e.get("status"),
                e.get("stage"),
                e.get("attempt"),
                e.get("message"),
            )
            for e in entries
        ],
    )


@clear_errors
def retry(
    job_id: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Retry a failed job (its failed files run again; finished ones keep their results)."""
    with _client(url, token) as client:
        Show(as_json).status(client.retry(job_id))


@clear_errors
def cancel(
    job_id: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Cancel a pending or processing job."""
    with _client(url, token) as client:
        Show(as_json).status(client.cancel(job_id))


@clear_errors
def results(
    job_id: str,
    url: UrlOpt = None,
    token: TokenOpt = None,
    download: Annotated[
        Path | None,
        typer.Option(
            "--download",
            file_okay=False,
            help="Write every result file into this directory, under the name the pages give "
            "it (the file's own name first, e.g. 'sales - story.md').",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List a job's result files (transcripts, summaries, profiles); or download them."""
    show = Show(as_json)
    with _client(url, token) as client:
        found = client.results(job_id)
        saved = (
            [
                client.download(job_id, r["name"], download, as_name=r["download_name"])
                for r in found
            ]
            if download
            else []
        )
    if as_json:
        return show.json({"job_id": job_id, "results": found, "saved": [str(p) for p in saved]})
    if download is not None:
        for p in saved:
            show.line(str(p))
        return
    show.table(
        ["name", "size", "mime", "from file"],
        [(r["name"], r["size"], r["mime"], r.get("filename")) for r in found],
    )


cases_app = typer.Typer(help="Cases: names that group jobs.", invoke_without_command=True)


@cases_app.callback()
@clear_errors
def cases(
    ctx: typer.Context, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """List the cases you may see (`cases show NAME` for one case's jobs)."""
    if ctx.invoked_subcommand is not None:
        return
    show = Show(as_json)
    with _client(url, token) as client:
        found = client.cases()
    if as_json:
        return show.json({"cases": found})
    show.table(
        ["case", "jobs", "last activity"],
        [(c["case_name"], c["job_count"], show.when(c["last_activity"])) for c in found],
    )


@cases_app.command("show")
@clear_errors
def cases_show(
    name: str, url: UrlOpt = None, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """One case's jobs, oldest first, with their files done."""
    show = Show(as_json)
    with _client(url, token) as client:
        case = client.case_jobs(name)
    if as_json:
        return show.json(case)
    show.table(
        ["job", "status", "files done", "extends", "created"],
        [
            (
                j["job_id"],
                j["status"],
                f"{j['processed_files']}/{j['total_files']}",
                j.get("parent_job_id"),
                show.when(j["created_at"]),
            )
            for j in case["jobs"]
        ],
    )


def register(app: typer.Typer) -> None:
    for command in (login, logout, whoami, upload, status, jobs, timeline, retry, cancel, results):
        app.command()(command)
    app.add_typer(cases_app, name="cases")
