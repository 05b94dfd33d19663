"""Prometheus metrics of the shared machinery, labelled by service.

A service that runs several worker processes (uvicorn --workers, as `make run` does) sets PROMETHEUS_MULTIPROC_DIR
to an empty directory of its own: each worker then writes its counters, histograms and gauges there, and /metrics,
whichever worker answers, sums the counters and histograms of all of them and merges each gauge as its
`multiprocess_mode` says. The collectors that compute at scrape time (`register_live`: pool use, oldest ages, webhook
backlogs) answer for the worker that serves the scrape; every worker reads the oldest ages from the database. Without
the variable (one worker per pod, as Helm runs it) each process answers for itself."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import gcpause

HTTP_REQUESTS = Counter("xinren_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("xinren_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
OUTBOX_PUBLISHED = Counter("xinren_outbox_published_total", "Outbox events published", ["service", "topic"])
OUTBOX_FAILURES = Counter("xinren_outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"])
NOTIFICATIONS_DROPPED = Counter(
    "xinren_notifications_dropped_total",
    "NOTIFYs of committed transactions never sent: refused by the database, or beyond the announcer's bound while it "
    "was unreachable (listeners then wait for their poll)",
    ["service"],
)
OUTBOX_PENDING = Gauge(
    "xinren_outbox_pending",
    "Outbox events not yet published (seen by the relay)",
    ["service"],
    multiprocess_mode="livemax",
)
BACKGROUND_RESTARTS = Counter(
    "xinren_background_task_restarts_total",
    "Background tasks (relay, consumer, timers, ...) started again after a failure",
    ["service", "task"],
)
HOUSEKEEPING_DELETED = Counter(
    "xinren_housekeeping_deleted_total",
    "Rows of the infrastructure tables deleted past their retention (xinren_shared.housekeeping)",
    ["service", "table"],
)
CONSUMED = Counter("xinren_events_consumed_total", "Events handled", ["service", "consumer", "type", "outcome"])
DEAD_LETTERS = Counter(
    "xinren_dead_letters_total", "Events sent to a dead-letter topic", ["service", "consumer", "topic"]
)
TIMERS_FIRED = Counter("xinren_timers_fired_total", "Durable timers fired", ["service", "kind", "outcome"])
TIMERS_OVERDUE = Gauge(
    "xinren_timers_overdue",
    "Live timers past their due time, as the timer worker last counted them",
    ["service"],
    multiprocess_mode="livemax",
)
# Consumers: how far behind each partition is, how long handlers take, what waits in the dead-letter topics.
CONSUMER_LAG = Gauge(
    "xinren_consumer_lag",
    "Records of a partition the consumer group has not handled yet (high watermark minus position)",
    ["service", "group", "topic", "partition"],
    multiprocess_mode="livemostrecent",  # the partition's current owner reports last
)
HANDLER_SECONDS = Histogram(
    "xinren_event_handler_seconds",
    "Time an event handler took inside its transaction",
    ["service", "consumer", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DLQ_DEPTH = Gauge(
    "xinren_dlq_depth",
    "Records in the dead-letter topic of a topic the consumer reads that no replay has moved past yet",
    ["service", "consumer", "topic"],
    multiprocess_mode="livemax",
)
# Connection pools (label: the database name, so it needs no service name).
DB_POOL_WAIT = Histogram(
    "xinren_db_pool_wait_seconds",
    "Time to get a connection from the pool (waiting for a free one, or opening a new one)",
    ["database"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Rate limits (xinren_shared.ratelimit): requests refused with 429, by the caller's role.
RATE_LIMITED = Counter(
    "xinren_http_rate_limited_total", "Requests answered 429 because the caller spent its budget", ["service", "role"]
)


class AgeCollector(Collector):
    """Ages computed at scrape time from the oldest timestamp last seen, so the age keeps growing even when the
    loop that reports it is stuck (the age of a stuck row is what must page, not the last value a loop saw)."""

    def __init__(self, name: str, documentation: str):
        self.name = name
        self.documentation = documentation
        self._oldest: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def record(self, service: str, oldest: datetime | None) -> None:
        with self._lock:
            self._oldest[service] = oldest.timestamp() if oldest is not None else None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=["service"])
        now = time.time()
        with self._lock:
            for service, oldest in sorted(self._oldest.items()):
                family.add_metric([service], max(0.0, now - oldest) if oldest is not None else 0.0)
        yield family


OUTBOX_OLDEST_AGE = AgeCollector(
    "xinren_outbox_oldest_unpublished_seconds", "Age of the oldest outbox row not yet published (0 when none)"
)
TIMER_OLDEST_OVERDUE = AgeCollector(
    "xinren_timer_oldest_overdue_seconds", "How long the most overdue live timer is past its due time (0 when none)"
)
_LIVE: list[Collector] = []


def register_live(collector: Collector) -> None:
    """A collector that computes its figures when scraped, from this process's state."""
    REGISTRY.register(collector)
    _LIVE.append(collector)


register_live(OUTBOX_OLDEST_AGE)
register_live(TIMER_OLDEST_OVERDUE)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def metrics_response() -> Response:
    gcpause.report()  # this worker's pauses timed since its last report
    if multiprocess_dir() is None:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in _LIVE:
        registry.register(collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def worker_stopped() -> None:
    """A worker that stops takes its gauges out of the live merge (its counters keep counting in the sums)."""
    if multiprocess_dir() is not None:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class HttpMetricsMiddleware:
    """Counts and times requests by route template (never by raw path, which would explode the label set)."""

    def __init__(self, app: ASGIApp, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(self.service, method, template, str(status["code"])).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - started)


async def metrics_endpoint(_: Request) -> Response:
    return metrics_response()
