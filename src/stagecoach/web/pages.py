"""The pages: sign in/out, dashboard, upload, job, cases, help. Views stay thin: parse,
call one service, render."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from stagecoach.api.deps import ServicesDep
from stagecoach.domain.contract import iso
from stagecoach.domain.records import Role, User
from stagecoach.services.errors import NotFound, ServiceError, TooManyRequests, Unauthorized
from stagecoach.web import views
from stagecoach.web.deps import OptionalPageAuth, PageAuth, PageUser, safe_next
from stagecoach.web.security import (
    CSRF_FIELD,
    clear_session_cookie,
    csrf_ok,
    csrf_token,
    set_csrf_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["seconds"] = views.seconds_text
templates.env.filters["when"] = views.time_text
templates.env.globals["status_label"] = views.status_label
templates.env.globals["status_icon"] = views.STATUS_ICONS.get
templates.env.globals["ACTIVE"] = views.ACTIVE
templates.env.globals["file_counts"] = views.file_counts
templates.env.globals["outcome_of"] = views.outcome
templates.env.globals["estimating"] = views.estimating
templates.env.globals["jobs_ahead"] = views.jobs_ahead
templates.env.globals["result_label"] = views.result_label
templates.env.globals["elapsed"] = lambda doc: views.elapsed(doc, datetime.now(UTC))
templates.env.globals["in_future"] = lambda text: views.in_future(text, datetime.now(UTC))
templates.env.filters["iso"] = iso

MAX_CASES_SHOWN = 50
STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
CsrfField = Annotated[str | None, Form(alias=CSRF_FIELD)]


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    settings = request.app.state.settings
    context.update(
        user=user,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        poll_interval=settings.poll_interval,
        path=request.url.path,
    )
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    set_csrf_cookie(request, response)
    return response


def refused(request: Request, user: User | None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        user,
        status_code=403,
        title="Form expired",
        detail="This form is out of date or came from another site. Go back, "
        "reload the page and try again.",
    )


def not_found(request: Request, user: User | None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        user,
        status_code=404,
        title="Not found",
        detail="There is no such page or job, or it is not yours to see.",
    )


# --- sign in / out -------------------------------------------------------------------------
@router.get("/login")
def login_page(
    request: Request, found: OptionalPageAuth, next: Annotated[str | None, Query()] = None
) -> Response:
    if found is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", None, next=safe_next(next))


@router.post("/login")
def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: CsrfField = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    if not csrf_ok(request, csrf):
        return refused(request, None)
    client = request.client.host if request.client else None
    try:
        token = services.accounts.login(username, password, kind="session", client=client)
    except TooManyRequests as exc:
        page = render(
            request,
            "login.html",
            None,
            status_code=429,
            next=safe_next(next),
            username=username,
            error="Too many failed sign-ins. Wait a few minutes, then try again.",
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except Unauthorized:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            next=safe_next(next),
            username=username,
            error="Wrong username or password.",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, token, request.app.state.settings.token_ttl_hours)
    return response


@router.post("/logout")
def logout(
    request: Request, services: ServicesDep, found: OptionalPageAuth, csrf: CsrfField = None
) -> Response:
    if not csrf_ok(request, csrf):
        return refused(request, found[0] if found else None)
    if found is not None:
        services.accounts.revoke(found[1])
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


# --- dashboard -----------------------------------------------------------------------------
@router.get("/")
def dashboard(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    status: Annotated[str | None, Query()] = None,
    case: Annotated[str | None, Query(max_length=200)] = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    status = status if status in STATUSES else None
    case = case or None
    is_manager = user.role in (Role.MANAGER, Role.ADMIN)
    people = services.accounts.visible_users(user) if is_manager else [user]
    names = {u.user_id: u.username for u in people}
    owner_id = next((u.user_id for u in people if u.username == owner), None)
    owner = owner if owner_id else None
    feed_position = services.events.last_event_id()  # before reading, so nothing slips by
    jobs, total = services.tracking.list_jobs(
        user, status=status, case_name=case, owner_id=owner_id, limit=100
    )
    case_names = sorted(c["case_name"] for c in services.cases.list_cases(user))
    found = services.tracking.status_counts(user)
    counts = {s: found.get(s, 0) for s in STATUSES}
    team = None
    if is_manager:
        since = (
            services.ctx.clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        team = services.accounts.team_summary(user, since)
    return render(
        request,
        "dashboard.html",
        user,
        jobs=jobs,
        total=total,
        status=status,
        case=case,
        owner=owner,
        case_names=case_names,
        statuses=STATUSES,
        counts=counts,
        feed_position=feed_position,
        is_manager=is_manager,
        names=names,
        team=team,
        filter_query=views.filter_query,
    )


# --- upload --------------------------------------------------------------------------------
@router.get("/upload")
def upload_page(
    request: Request,
    user: PageUser,
    services: ServicesDep,
    case: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    docs, _ = services.tracking.list_jobs(user, limit=500)
    case_list = [(name, jobs[0]["job_id"]) for name, jobs in views.cases(docs)]
    known = case in {name for name, _ in case_list}
    return render(
        request,
        "upload.html",
        user,
        case_list=case_list,
        chosen_case=case if known else None,
        new_case=None if known else case,
        max_files=request.app.state.settings.max_files_per_upload,
    )


# --- job -----------------------------------------------------------------------------------
def _job_context(services: Any, user: User, job_id: str) -> dict[str, Any]:
    doc = services.tracking.status(user, job_id)
    entries = services.tracking.timeline(user, job_id)
    spent = views.stage_seconds(entries, doc)
    results: list[dict[str, Any]] = []
    preview = None
    if doc["status"] in ("completed", "failed"):
        results = services.results.list_results(user, job_id)
        transcript = views.transcript_of(results)
        if transcript is not None:
            with contextlib.suppress(NotFound):  # expired or gone from storage: no preview
                text, more = services.results.preview(user, job_id, transcript["name"])
                preview = {"result": transcript, "text": text, "more": more}
    return {
        "job": doc,
        "timeline": views.timeline_rows(entries, doc),
        "steps": views.steps(doc, spent),
        "failure": views.error_view(doc),
        "restart": views.restart_note(entries, doc),
        "results": views.results_by_file(results),
        "preview": preview,
    }


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, user: PageUser, services: ServicesDep) -> Response:
    try:
        context = _job_context(services, user, job_id)
    except NotFound:
        return not_found(request, user)
    return render(request, "job.html", user, **context)


@router.get("/jobs/{job_id}/panel")
def job_panel(request: Request, job_id: str, user: PageUser, services: ServicesDep) -> Response:
    """The live part of the job page, for the page's script to swap in when the job moves
    to another stage or status (the server renders and escapes it)."""
    try:
        context = _job_context(services, user, job_id)
    except NotFound:
        return not_found(request, user)
    response = render(request, "_job_panel.html", user, **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _job_action(
    request: Request,
    job_id: str,
    auth: tuple[User, str],
    services: Any,
    csrf: str | None,
    action: str,
) -> Response:
    user = auth[0]
    if not csrf_ok(request, csrf):
        return refused(request, user)
    try:
        getattr(services.tracking, action)(user, job_id)
    except NotFound:
        return not_found(request, user)
    except ServiceError as exc:
        context = _job_context(services, user, job_id)
        return render(
            request, "job.html", user, status_code=exc.status_code, notice=exc.detail, **context
        )
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/retry")
def retry(
    request: Request, job_id: str, auth: PageAuth, services: ServicesDep, csrf: CsrfField = None
) -> Response:
    return _job_action(request, job_id, auth, services, csrf, "retry")


@router.post("/jobs/{job_id}/again")
def process_again(
    request: Request, job_id: str, auth: PageAuth, services: ServicesDep, csrf: CsrfField = None
) -> Response:
    """A cancelled job, processed again from its stored files: to the new job's page."""
    user = auth[0]
    if not csrf_ok(request, csrf):
        return refused(request, user)
    try:
        doc = services.reprocess.process_again(user, job_id)
    except NotFound:
        return not_found(request, user)
    except ServiceError as exc:
        context = _job_context(services, user, job_id)
        return render(
            request, "job.html", user, status_code=exc.status_code, notice=exc.detail, **context
        )
    return RedirectResponse(f"/jobs/{doc['job_id']}", status_code=303)


@router.post("/jobs/{job_id}/cancel")
def cancel(
    request: Request,
    job_id: str,
    auth: PageAuth,
    services: ServicesDep,
    csrf: CsrfField = None,
    confirmed: Annotated[str | None, Form(alias="confirm")] = None,
) -> Response:
    """Cancel asks first: without ``confirm`` (a browser without script) the page asks."""
    if confirmed != "yes":
        user = auth[0]
        if not csrf_ok(request, csrf):
            return refused(request, user)
        try:
            context = _job_context(services, user, job_id)
        except NotFound:
            return not_found(request, user)
        return render(request, "cancel.html", user, **context)
    return _job_action(request, job_id, auth, services, csrf, "cancel")


# --- cases and help ------------------------------------------------------------------------
@router.get("/cases")
def cases_page(request: Request, user: PageUser, services: ServicesDep) -> Response:
    feed_position = services.events.last_event_id()
    cases = []
    for c in services.cases.list_cases(user)[:MAX_CASES_SHOWN]:
        jobs, total = services.tracking.list_jobs(user, case_name=c["case_name"], limit=50)
        cases.append(
            {"name": c["case_name"], "jobs": jobs, "total": total, **views.case_totals(jobs)}
        )
    return render(request, "cases.html", user, cases=cases, feed_position=feed_position)


@router.get("/help")
def help_page(request: Request, found: OptionalPageAuth) -> Response:
    return render(
        request,
        "help.html",
        found[0] if found else None,
        stall_minutes=round(request.app.state.settings.stall_after / 60),
    )
