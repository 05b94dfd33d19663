"""Shed load, never fail: a service that cannot take more work says so at once with 503 and Retry-After.

Two gates, both cheap:
- in flight: at most `max_in_flight` requests are being handled at once; the next one is answered 503
  SERVER_BUSY immediately instead of queueing behind the others (health, readiness and metrics always pass);
- the database pool: a request that cannot get a connection within `pool_timeout_seconds` is answered 503
  DATABASE_BUSY instead of waiting 30 s and failing with a 500.
Both carry `Retry-After` and are counted in `xinren_http_shed_total{service, reason}`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

SHED = Counter(
    "xinren_http_shed_total", "Requests answered 503 because the service was at capacity", ["service", "reason"]
)
ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})


def busy(code: str, message: str, retry_after_seconds: int) -> JSONResponse:
    return error_response(503, code, message, headers={"Retry-After": str(retry_after_seconds)})


class AdmissionMiddleware:
    """Bounds the requests in flight; beyond the bound, 503 SERVER_BUSY with Retry-After at once."""

    def __init__(self, app: ASGIApp, *, service: str, max_in_flight: int, retry_after_seconds: int = 1):
        self.app = app
        self.service = service
        self.max_in_flight = max_in_flight
        self.retry_after_seconds = retry_after_seconds
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_ADMITTED or self.max_in_flight <= 0:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            SHED.labels(self.service, "in_flight").inc()
            response = busy("SERVER_BUSY", "the service is at capacity; retry shortly", self.retry_after_seconds)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def install_pool_timeout_handler(app: FastAPI, *, service: str, retry_after_seconds: int = 1) -> None:
    """A request that waited its whole pool timeout for a connection: 503 DATABASE_BUSY, not a 500."""

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        SHED.labels(service, "database_pool").inc()
        return busy("DATABASE_BUSY", "no database connection is free; retry shortly", retry_after_seconds)
