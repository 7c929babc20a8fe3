"""GET /healthz (the database and the broker answer) and GET /metrics (Prometheus).

Grading happens in worker processes, so the grading figures are read from the database at scrape time
(the rows are the truth, and any API replica reports the same numbers); upload rejections happen here and are
counted in this process."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from ..db.models import Submission, SubmissionStatus
from ..db.session import get_sessionmaker

router = APIRouter(tags=["operations"])
UPLOADS_REJECTED = Counter("grader_uploads_rejected", "Uploads refused, by reason", ["reason"])
DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


@router.get("/healthz")
def healthz() -> JSONResponse:
    checks = {"database": _check_database(), "broker": _check_broker(), "sandbox": _check_sandbox()}
    # "degraded": some workers cannot grade but others can; nothing is lost, so the service is still up.
    ok = all(value == "ok" or value.startswith("degraded") for value in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


def _check_database() -> str:
    try:
        with get_sessionmaker()() as session:
            session.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:
        return f"error: {error}"


def _check_broker() -> str:
    from ..worker import broker_app

    try:
        with broker_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"error: {error}"


def _check_sandbox() -> str:
    """The workers' sandboxes, as their canary runs last found them (grader.sandbox_health)."""
    from ..sandbox_health import healthz_entry

    try:
        return healthz_entry()
    except Exception as error:
        return f"error: {error}"


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class GradingCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        try:
            with get_sessionmaker()() as session:
                by_status = dict(session.execute(  # type: ignore[arg-type]
                    select(Submission.status, func.count()).group_by(Submission.status)).all())
                spans = session.execute(select(Submission.started_at, Submission.graded_at).where(
                    Submission.status == SubmissionStatus.graded.value, Submission.started_at.is_not(None))).all()
        except Exception:
            return  # /healthz reports the database; metrics just go quiet
        depth = GaugeMetricFamily("grader_queue_depth", "Submissions waiting for a worker")
        depth.add_metric([], by_status.get(SubmissionStatus.queued.value, 0))
        yield depth
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


class WorkerStateCollector(Collector):
    """grader_workers_by_state{state}: live workers (heartbeat in the last few minutes) ready, with a sandbox that
    fails its canary (they take no work), or stopping."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from ..sandbox_health import workers_by_state

        try:
            counts = workers_by_state()
        except Exception:
            return  # /healthz reports the database
        gauge = GaugeMetricFamily("grader_workers_by_state", "Live grading workers by state", labels=["state"])
        for state, count in counts.items():
            gauge.add_metric([state], count)
        yield gauge


REGISTRY.register(GradingCollector())
REGISTRY.register(WorkerStateCollector())
