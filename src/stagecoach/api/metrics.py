"""/metrics in the Prometheus text format (written by hand: a handful of series)."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from stagecoach.api.deps import ServicesDep, bearer_token
from stagecoach.services.errors import Forbidden
from stagecoach.services.metrics import STAGE_BUCKETS, MetricsSnapshot

router = APIRouter(tags=["metrics"])
STATUSES = ("pending", "processing", "completed", "failed", "cancelled", "expired")
COUNTERS = {
    "claims": "Jobs claimed by a worker (one per attempt started).",
    "lease_expiries": "Leases that expired: a worker died or was cut off; the job was requeued.",
    "retries": "Automatic retries scheduled after a retryable error.",
    "stalls": "Times a processing job was flagged stalled.",
    "completed": "Jobs completed by workers.",
    "failed": "Jobs that failed for good in a worker or after a lost worker.",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(m: MetricsSnapshot) -> str:
    out: list[str] = []

    def head(name: str, kind: str, text: str) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")

    head("stagecoach_jobs", "gauge", "Jobs by status (expired: removed by retention).")
    for s in STATUSES:
        out.append(f'stagecoach_jobs{{status="{s}"}} {m.jobs.get(s, 0)}')
    head("stagecoach_queue_depth", "gauge", "Claimable pending jobs ready to run now.")
    out.append(f"stagecoach_queue_depth {m.queue['ready']}")
    head("stagecoach_queue_waiting_retry", "gauge", "Pending jobs waiting out a retry backoff.")
    out.append(f"stagecoach_queue_waiting_retry {m.queue['waiting_retry']}")
    head("stagecoach_jobs_stalled", "gauge", "Processing jobs flagged stalled.")
    out.append(f"stagecoach_jobs_stalled {m.queue['stalled']}")
    head("stagecoach_workers_alive", "gauge", "Workers with a recent heartbeat.")
    out.append(f"stagecoach_workers_alive {m.workers}")
    for name, text in COUNTERS.items():
        metric = f"stagecoach_{name}_total"
        head(metric, "counter", text)
        out.append(f"{metric} {m.counters.get(name, 0)}")
    head(
        "stagecoach_stage_duration_seconds",
        "histogram",
        "Seconds each stage took per artifact (the most recent 5000 artifacts).",
    )
    for (pipeline, stage), h in sorted(m.stages.items()):
        labels = f'pipeline="{_label(pipeline)}",stage="{_label(stage)}"'
        for bound, n in zip(STAGE_BUCKETS, h.buckets, strict=True):
            out.append(f'stagecoach_stage_duration_seconds_bucket{{{labels},le="{bound:g}"}} {n}')
        out.append(f'stagecoach_stage_duration_seconds_bucket{{{labels},le="+Inf"}} {h.count}')
        out.append(f"stagecoach_stage_duration_seconds_sum{{{labels}}} {h.total:.3f}")
        out.append(f"stagecoach_stage_duration_seconds_count{{{labels}}} {h.count}")
    return "\n".join(out) + "\n"


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(request: Request) -> None:
    """Loopback clients may read; others need the bearer token of `metrics_token`."""
    if is_loopback(request.client.host if request.client else None):
        return
    token = request.app.state.settings.metrics_token
    given = bearer_token(request.headers.get("authorization", ""))
    if (
        token is not None
        and given
        and hmac.compare_digest(given.encode(), token.get_secret_value().encode())
    ):
        return
    raise Forbidden(
        "/metrics answers loopback clients; others send 'Authorization: Bearer' with the "
        "STAGECOACH_METRICS_TOKEN"
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={403: {"description": "Not a loopback client and no valid metrics token"}},
)
def metrics(request: Request, services: ServicesDep) -> PlainTextResponse:
    check_access(request)
    return PlainTextResponse(
        render(services.metrics.snapshot()), media_type="text/plain; version=0.0.4"
    )
