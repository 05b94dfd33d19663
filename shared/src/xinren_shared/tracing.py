"""Distributed tracing (OpenTelemetry): a span per request, per consumed event, per timer and per webhook sent, the
W3C trace context carried from an HTTP request through the outbox and Kafka to the next service and its webhooks.

Each service has its own tracer provider (its spans name it as `service.name`). Ids are always made, so that the
trace id can be every log line's correlation id and travel in `traceparent` headers; spans are recorded only while
something exports them: the OTLP endpoint of the settings, or a processor a test adds. Otherwise the sampler drops
every span at its start (the SDK then hands out a non-recording span: ids only, nothing kept, no thread).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanKind, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from .logs import correlation_id

if TYPE_CHECKING:
    from .settings import ServiceSettings

log = logging.getLogger("xinren.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
PROPAGATOR = TraceContextTextMapPropagator()


class _LocalProcessors(SpanProcessor):
    """The processors added in this process (tests' in-memory exporters), shared by every service's provider."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        return None  # they belong to whoever added them

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self.processors)


_LOCAL = _LocalProcessors()


class _RecordWhileExported(Sampler):
    """Drops every span unless something exports: the OTLP endpoint (then `ratio` of the new traces, and whatever
    the caller's context sampled), or a processor added in-process (then everything)."""

    def __init__(self, exporting: bool, ratio: float):
        self.exporting = exporting
        self.ratio = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if _LOCAL.processors:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        if self.exporting:
            return self.ratio.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "RecordWhileExported"


def _provider(service: str, settings: ServiceSettings | None) -> TracerProvider:
    endpoint = settings.otlp_endpoint if settings is not None else ""
    ratio = settings.trace_sample_ratio if settings is not None else 1.0
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"xinren-{service}", "service.namespace": "xinren"}),
        sampler=_RecordWhileExported(bool(endpoint), ratio),
    )
    provider.add_span_processor(_LOCAL)
    if endpoint:
        # Imported only when exporting: protobuf and the HTTP client stay out of a process that does not.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


_PROVIDERS: dict[str, TracerProvider] = {}
_TRACERS: dict[str, Tracer] = {}


def configure(service: str, settings: ServiceSettings) -> TracerProvider:
    """Gives `service` its tracer provider from the settings (a second call replaces the first one's)."""
    old = _PROVIDERS.get(service)
    provider = _PROVIDERS[service] = _provider(service, settings)
    _TRACERS[service] = provider.get_tracer("xinren_shared")
    if old is not None:
        old.shutdown()
    return provider


def shutdown(provider: TracerProvider) -> None:
    """Sends what is still buffered and stops the exporter's thread (at the end of the app's lifespan)."""
    provider.shutdown()


def tracer(service: str) -> Tracer:
    found = _TRACERS.get(service)
    if found is None:  # a worker driven without an app (tests, tools): ids, no recording
        provider = _PROVIDERS[service] = _provider(service, None)
        found = _TRACERS[service] = provider.get_tracer("xinren_shared")
    return found


def add_processor(processor: SpanProcessor) -> None:
    """Records every span of every service of this process into `processor` (tests: an in-memory exporter)."""
    _LOCAL.processors.append(processor)


def remove_processor(processor: SpanProcessor) -> None:
    _LOCAL.processors.remove(processor)


# ---------------------------------------------------------------------------------------------------------------
# W3C trace context in and out (the propagator parses and formats it)


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The context a `traceparent` (and `tracestate`) names; None when there is none or it does not parse."""
    if not traceparent:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    context = PROPAGATOR.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def context_from_headers(headers: Iterable[tuple[str, bytes]] | None) -> Context | None:
    """The context of a Kafka record's `traceparent` / `tracestate` headers."""
    traceparent = tracestate = None
    for key, value in headers or ():
        if key == TRACEPARENT:
            traceparent = value.decode("latin-1")
        elif key == TRACESTATE:
            tracestate = value.decode("latin-1")
    return context_from(traceparent, tracestate)


def current_traceparent() -> str | None:
    """The `traceparent` of the current span (what an outbox row keeps); None outside any span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(headers: dict[str, str], span: Span | None = None) -> None:
    """Adds `traceparent` (and `tracestate`) of `span` (default: the current one) to outgoing HTTP headers."""
    context = trace.set_span_in_context(span) if span is not None else None
    PROPAGATOR.inject(headers, context=context)


def traceparent_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    inject(carrier, span)
    return carrier.get(TRACEPARENT)


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def trace_id_of_traceparent(traceparent: str | None) -> str | None:
    context = context_from(traceparent)
    return None if context is None else trace_id_of(trace.get_current_span(context))


@contextmanager
def traced(
    service: str,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Attributes = None,
) -> Iterator[Span]:
    """Runs the block in a new span (a child of `parent`, else of the current span, else a new trace) with its
    trace id as the log correlation id. An exception leaving the block is recorded on the span."""
    span = tracer(service).start_span(name, context=parent, kind=kind, attributes=attributes)
    token = correlation_id.set(trace_id_of(span))
    try:
        with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
            yield span
    finally:
        correlation_id.reset(token)


@contextmanager
def ending(spans: Sequence[Span]) -> Iterator[None]:
    """Ends each of `spans` when the block ends (one piece of work for many events: a batch sent to Kafka, a batch
    given to a handler); an exception leaving the block is recorded on each."""
    try:
        yield
    except Exception as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(StatusCode.ERROR)
        raise
    finally:
        for span in spans:
            span.end()
