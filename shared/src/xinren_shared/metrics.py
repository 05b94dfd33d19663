"""Prometheus metrics of the shared machinery; one set per process, labelled by service."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("xinren_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("xinren_http_request_seconds", "HTTP request latency", ["service", "method", "route"])
OUTBOX_PUBLISHED = Counter("xinren_outbox_published_total", "Outbox events published", ["service", "topic"])
OUTBOX_FAILURES = Counter("xinren_outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"])
OUTBOX_PENDING = Gauge("xinren_outbox_pending", "Outbox events not yet published (seen by the relay)", ["service"])
CONSUMED = Counter("xinren_events_consumed_total", "Events handled", ["service", "consumer", "type", "outcome"])
DEAD_LETTERS = Counter(
    "xinren_dead_letters_total", "Events sent to a dead-letter topic", ["service", "consumer", "topic"]
)
TIMERS_FIRED = Counter("xinren_timers_fired_total", "Durable timers fired", ["service", "kind", "outcome"])


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


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
