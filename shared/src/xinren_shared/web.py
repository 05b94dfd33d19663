"""The FastAPI app every service is built on: lifespan, error body, health, readiness, metrics, middlewares."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import gcpause, tracing
from .admission import AdmissionMiddleware, install_pool_timeout_handler
from .auth import current_principal
from .commands import AnswerGiven, answer_given
from .errors import ErrorBody, error_response, error_responses, install_error_handlers
from .i18n import LocalizedErrorsMiddleware
from .logs import configure_logging
from .metrics import HttpMetricsMiddleware, metrics_response, worker_stopped
from .openapi import complete_openapi
from .operations import consistency_router
from .pagination import cursor_key_for, reset_cursor_key, use_cursor_key
from .ratelimit import RateLimitMiddleware
from .runtime import ServiceRuntime
from .settings import ServiceSettings


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413 before anything reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large()(scope, receive, send)

    def _too_large(self) -> Response:
        return error_response(413, "PAYLOAD_TOO_LARGE", f"the body is larger than {self.max_bytes} bytes")


class _TooLarge(HTTPException):
    # An HTTPException, so that a route reading a streamed body answers it as a 413 (FastAPI turns any other
    # error while reading the body into a 400).
    def __init__(self, max_bytes: int):
        super().__init__(413, f"the body is larger than {max_bytes} bytes")


def _document_error_responses(app: FastAPI, routers: list[APIRouter]) -> None:
    """Declares in the OpenAPI document, with the error body, the errors every route of a kind answers: 401 where a
    token is needed; 400 (unparseable body), 413 and 422 where there is a body; 400 (bad cursor) where there is a
    cursor; 422 where there are parameters. Routes declare their own 403/404/409 with `responses=error_responses()`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(error_schema.pop("$defs", {}))
        components["ErrorBody"] = error_schema
        for route in [*app.routes, *(r for router in routers for r in router.routes)]:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            statuses = set()
            if _needs_token(route.dependant):
                statuses.add(401)
            if route.body_field is not None:
                statuses |= {400, 413, 422}
            if any(p.name == "cursor" for p in route.dependant.query_params):
                statuses.add(400)
            if route.dependant.path_params or route.dependant.query_params or route.dependant.header_params:
                statuses.add(422)
            assert route.methods is not None  # an APIRoute always has its methods (GET by default)
            for method in route.methods:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status, declared in error_responses(*sorted(statuses)).items():
                    if str(status) not in responses or "HTTPValidationError" in str(responses[str(status)]):
                        responses[str(status)] = {
                            "description": declared["description"],
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                        }
                operation["responses"] = dict(sorted(responses.items()))
        if "HTTPValidationError" not in str(schema["paths"]):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _needs_token(dependant: Dependant) -> bool:
    return dependant.call is current_principal or any(_needs_token(d) for d in dependant.dependencies)


class CorrelationIdMiddleware:
    """Gives each request its server span (a child of the caller's `traceparent`, else a new trace), the span's trace
    id as the log correlation id, an `x-request-id` answer (the caller's, else the trace id) and the service's key
    for signing list cursors."""

    def __init__(self, app: ASGIApp, cursor_key: bytes, service: str):
        self.app = app
        self.cursor_key = cursor_key
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        traceparent = headers.get(b"traceparent")
        parent = None
        if traceparent is not None:
            tracestate = headers.get(b"tracestate")
            parent = tracing.context_from(
                traceparent.decode("latin-1"), tracestate.decode("latin-1") if tracestate else None
            )
        method = scope.get("method", "")
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode("latin-1")))
            await send(message)

        key_token = use_cursor_key(self.cursor_key)
        try:
            with tracing.traced(self.service, method, kind=SpanKind.SERVER, parent=parent) as span:
                given = headers.get(b"x-request-id", b"").decode("latin-1")[:100]
                rid = given or (tracing.trace_id_of(span) or uuid.uuid4().hex)
                try:
                    await self.app(scope, receive, _send)
                finally:
                    if span.is_recording():
                        _describe(span, scope, method, status, given)
        finally:
            reset_cursor_key(key_token)


def _describe(span: Span, scope: Scope, method: str, status: int, request_id: str) -> None:
    """Names a recorded server span after its route template (known once routed) and sets its HTTP attributes."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if template:
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)
    span.set_attribute("http.request.method", method)
    span.set_attribute("url.path", scope.get("path", ""))
    span.set_attribute("http.response.status_code", status)
    if request_id:
        span.set_attribute("http.request.header.x-request-id", request_id)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def build_app(
    settings: ServiceSettings,
    runtime: ServiceRuntime[Any],
    *,
    title: str,
    routers: list[APIRouter],
    on_startup: Callable[[ServiceRuntime[Any]], Awaitable[object]] | None = None,
    messages_zh: Mapping[str, str] | None = None,
) -> FastAPI:
    """The service's app; `messages_zh` gives the Chinese text of each of the service's own error codes."""
    configure_logging(runtime.spec.name, settings.log_level)
    tracer_provider = tracing.configure(runtime.spec.name, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup(runtime)
        gcpause.settle(settings.gc_thresholds)
        runtime.spawn(lambda: gcpause.report_every(1.0), "gc-pause-report")
        try:
            yield
        finally:
            await runtime.stop()
            tracing.shutdown(tracer_provider)
            worker_stopped()

    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: 200 while the process serves requests (a probe that fails means restart it)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "a dependency is unreachable"}})
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when the database, Kafka and the background workers are fine, else 503 naming which."""
        checks = await request.app.state.runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return metrics_response()

    routers = [*routers, consistency_router()]
    for router in routers:
        app.include_router(router)
    _document_error_responses(app, routers)
    complete_openapi(app, routers, needs_token=_needs_token, public_url=settings.public_url)
    app.state.consistency = runtime.consistency

    # Idempotency-Key answers are given by the command runner, inside each command's own transaction.
    app.add_exception_handler(AnswerGiven, answer_given)
    install_pool_timeout_handler(app, service=runtime.spec.name)
    # Outermost first: error language, correlation id, metrics, rate limits (429 before taking a slot), admission (sheds
    # load at once), body limit, the app.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware, service=runtime.spec.name, max_in_flight=settings.max_in_flight)
    app.add_middleware(
        RateLimitMiddleware, service=runtime.spec.name, jwt_secret=settings.jwt_secret, rate_limits=settings.rate_limits
    )
    app.add_middleware(HttpMetricsMiddleware, service=runtime.spec.name)
    app.add_middleware(
        CorrelationIdMiddleware, cursor_key=cursor_key_for(settings.jwt_secret), service=runtime.spec.name
    )
    app.add_middleware(LocalizedErrorsMiddleware, messages_zh=messages_zh or {})
    return app
