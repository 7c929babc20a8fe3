"""GET /healthz (the database and the broker answer, a grading worker is alive) and GET /metrics (Prometheus).

Grading happens in worker processes, so the grading figures are read from the database at scrape time
(the rows are the truth, and any API replica reports the same numbers); upload rejections happen here and are
counted in this process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from ..db.models import Submission, SubmissionStatus, WorkerState
from ..db.session import get_sessionmaker
from ..settings import get_settings

router = APIRouter(tags=["operations"])
UPLOADS_REJECTED = Counter("grader_uploads_rejected", "Uploads refused, by reason", ["reason"])
DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@router.get("/healthz")
def healthz() -> JSONResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(value == "ok" for value in checks.values())
    # Workers and their sandboxes are reported, but a 503 stays about this process: without a worker that can
    # grade, the API still accepts uploads (nothing is lost; they wait, and the student reads that grading is
    # delayed), and a load balancer or compose's depends_on must not take it away for that. Alert on "degraded".
    checks["workers"] = _check_workers()
    checks["sandbox"] = _check_sandbox()
    grading = checks["workers"] == "ok" and checks["sandbox"] == "ok"
    status = ("ok" if grading else "degraded") if ok else "unavailable"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)


def _check_database() -> str:
    try:
        with get_sessionmaker()() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:
        return f"error: {error}"


def _check_broker() -> str:
    from ..queue import broker_app

    try:
        with broker_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {error}"


def _check_workers() -> str:
    """ok when at least one grading worker refreshed its row within the lease timeout, on any host."""
    from ..workers import live_workers

    try:
        alive = live_workers()
    except Exception as error:
        return f"error: cannot read the workers table: {error}"
    if not alive:
        timeout = get_settings().lease_timeout_s
        return (f"error: no grading worker has reported in the last {timeout:g} s; uploads are accepted but "
                "nothing is graded until a `grader worker` (or `grader serve` with --grading-workers >= 1) runs")
    if not alive.get(WorkerState.ready.value):
        states = ", ".join(f"{count} {state}" for state, count in sorted(alive.items()))
        return f"error: no grading worker is taking work ({states})"
    return "ok"


def _check_sandbox() -> str:
    """The workers' sandboxes, as their canary runs last found them (grader.sandbox_health)."""
    from ..sandbox_health import healthz_entry

    try:
        return healthz_entry()
    except Exception as error:
        return f"error: {error}"


class PrometheusText(Response):
    """Prometheus's text exposition format: declared so in /openapi.json, and sent so."""

    media_type = CONTENT_TYPE_LATEST


@router.get("/metrics", response_class=PrometheusText,
            responses={200: {"description": "Every series, in Prometheus's text format (docs/operations.md)"}})
def metrics() -> PrometheusText:
    return PrometheusText(generate_latest(REGISTRY))


class GradingCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        try:
            with get_sessionmaker()() as session:
                by_status = dict(session.execute(  # type: ignore[arg-type]
                    select(Submission.status, func.count()).group_by(Submission.status)).all())
                spans = session.execute(select(Submission.started_at, Submission.graded_at).where(
                    Submission.status == SubmissionStatus.graded.value, Submission.started_at.is_not(None))).all()
                queued = Submission.status == SubmissionStatus.queued.value
                oldest = session.scalar(select(func.min(Submission.created_at)).where(queued))
                delayed = session.scalar(select(func.count()).where(queued, Submission.delayed_reason.is_not(None)))
        except Exception:
            return  # /healthz reports the database; metrics just go quiet
        depth = GaugeMetricFamily("grader_queue_depth", "Submissions waiting for a worker")
        depth.add_metric([], by_status.get(SubmissionStatus.queued.value, 0))
        yield depth
        # The alert that matters at a deadline: how long the longest wait is, whatever the reason.
        age = GaugeMetricFamily("grader_queue_oldest_seconds", "Age of the oldest submission still waiting (0: none)")
        if oldest is not None:
            oldest = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
        age.add_metric([], (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0)
        yield age
        waiting = GaugeMetricFamily("grader_queue_delayed", "Waiting submissions delayed by an infrastructure fault")
        waiting.add_metric([], delayed or 0)
        yield waiting
        outcomes = CounterMetricFamily("grader_gradings", "Gradings finished, by outcome", labels=["outcome"])
        for status in (SubmissionStatus.graded, SubmissionStatus.failed):
            outcomes.add_metric([status.value], by_status.get(status.value, 0))
        yield outcomes
        durations = [(done - start).total_seconds() for start, done in spans if done is not None]
        buckets = [(str(b), sum(d <= b for d in durations)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", len(durations)))
        histogram = HistogramMetricFamily("grader_grading_duration_seconds", "Time from claim to graded")
        histogram.add_metric([], buckets, sum_value=sum(durations))
        yield histogram
        yield from _worker_gauges()


def _worker_gauges() -> Iterator[GaugeMetricFamily]:
    from ..workers import live_workers

    try:
        alive = live_workers()
    except Exception:
        return
    workers = GaugeMetricFamily("grader_workers", "Grading workers alive (refreshed within the lease timeout), by "
                                "state", labels=["state"])
    for state in WorkerState:
        workers.add_metric([state.value], alive.get(state.value, 0))
    yield workers


REGISTRY.register(GradingCollector())
