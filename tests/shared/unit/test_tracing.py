"""Tracing: W3C trace context in and out, spans recorded only while something exports, the trace id as the log
correlation id."""

import asyncio
import logging
import threading
import uuid

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from xinren_shared import tracing
from xinren_shared.contracts.orders import OrderCancelled
from xinren_shared.events import Envelope
from xinren_shared.logs import _ContextFilter, correlation_id
from xinren_shared.settings import ServiceSettings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter():
    exported = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exported)
    tracing.add_processor(processor)
    yield exported
    tracing.remove_processor(processor)


def envelope(traceparent: str | None = None) -> Envelope:
    env = Envelope.of(OrderCancelled(order_id=f"ord_{uuid.uuid4().hex}", reason="test", by="buyer"), "/xinren/order")
    env.traceparent = traceparent
    return env


def test_a_traceparent_is_read_and_a_bad_one_is_no_context():
    assert tracing.trace_id_of_traceparent(PARENT) == TRACE_ID
    for bad in (None, "", "garbage", f"00-{'0' * 32}-00f067aa0ba902b7-01", "00-xyz-00f067aa0ba902b7-01"):
        assert tracing.context_from(bad) is None
    assert tracing.context_from_headers([("ce_id", b"1"), ("traceparent", PARENT.encode())]) is not None
    assert tracing.context_from_headers([("ce_id", b"1")]) is None


def test_outside_any_span_there_is_no_traceparent_to_keep():
    assert tracing.current_traceparent() is None


def test_a_span_continues_its_parents_trace_and_names_it_as_correlation_id():
    with tracing.traced("unit", "work", parent=tracing.context_from(PARENT)) as span:
        assert tracing.trace_id_of(span) == TRACE_ID
        assert correlation_id.get() == TRACE_ID
        kept = tracing.current_traceparent()
        assert kept is not None and kept.startswith(f"00-{TRACE_ID}-") and not kept.startswith(PARENT[:-3])
    assert correlation_id.get() is None


def test_without_an_exporter_spans_are_not_recorded_but_ids_are_made():
    with tracing.traced("unit", "work") as span:
        assert not span.is_recording()
        assert tracing.trace_id_of(span) is not None
        # Not sampled: what goes on says so, so the next service records nothing either.
        flags = tracing.current_traceparent().rsplit("-", 1)[1]  # type: ignore[union-attr]
        assert int(flags, 16) & 1 == 0


def test_an_in_process_exporter_records_every_span_with_its_service(exporter):
    with tracing.traced("unit", "outer", kind=SpanKind.SERVER, parent=tracing.context_from(PARENT)):
        with tracing.traced("other", "inner"):
            pass
    inner, outer = exporter.get_finished_spans()
    assert {inner.context.trace_id, outer.context.trace_id} == {int(TRACE_ID, 16)}
    assert inner.parent.span_id == outer.context.span_id and outer.kind is SpanKind.SERVER
    assert outer.resource.attributes["service.name"] == "xinren-unit"
    assert inner.resource.attributes["service.name"] == "xinren-other"


def test_an_exception_is_recorded_on_its_span(exporter):
    with pytest.raises(ValueError), tracing.traced("unit", "fails"):
        raise ValueError("boom")
    (span,) = exporter.get_finished_spans()
    assert not span.status.is_ok and span.events[0].name == "exception"


def test_no_exporter_thread_unless_an_endpoint_is_set():
    def exporter_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name.startswith("OtelBatch"))

    before = exporter_threads()
    provider = tracing.configure("unit-off", ServiceSettings())
    assert exporter_threads() == before
    tracing.shutdown(provider)
    # An endpoint nobody listens on (no span is recorded here, so nothing is sent).
    provider = tracing.configure("unit-on", ServiceSettings(otlp_endpoint="http://127.0.0.1:9/v1/traces"))
    try:
        assert exporter_threads() == before + 1
    finally:
        tracing.shutdown(provider)
    assert exporter_threads() == before


@pytest.mark.parametrize(
    "exporting,ratio,parent,recorded",
    [
        (False, 1.0, None, False),
        (False, 1.0, PARENT, False),  # nothing exports: a sampled caller does not make this service record
        (True, 1.0, None, True),
        (True, 0.0, None, False),
        (True, 0.0, PARENT, True),  # the caller's decision is kept
        (True, 1.0, PARENT[:-2] + "00", False),
    ],
)
def test_spans_are_recorded_only_while_exported_at_the_ratio_unless_the_caller_decided(
    exporting, ratio, parent, recorded
):
    sampler = tracing._RecordWhileExported(exporting, ratio)
    trace_id = int(uuid.uuid4().hex, 16)
    result = sampler.should_sample(tracing.context_from(parent), trace_id, "work")
    assert result.decision.is_recording() is recorded


def test_the_envelope_carries_the_traceparent_in_kafka_and_structured_mode():
    env = envelope(PARENT)
    key, value, headers = env.to_kafka()
    assert ("traceparent", PARENT.encode()) in headers
    back = Envelope.from_kafka(env.topic, key, value, headers)
    assert back.traceparent == PARENT and back.id == env.id
    assert env.to_structured()["traceparent"] == PARENT
    # Without one: no header, no attribute.
    plain = envelope()
    assert all(k != "traceparent" for k, _ in plain.to_kafka()[2])
    assert "traceparent" not in plain.to_structured()
    assert Envelope.from_kafka(plain.topic, *plain.to_kafka()).traceparent is None


def _record() -> logging.LogRecord:
    record = logging.LogRecord("xinren.test", logging.INFO, __file__, 1, "hello", None, None)
    _ContextFilter("unit").filter(record)
    return record


def test_every_log_line_has_a_correlation_id_in_a_span_or_a_worker():
    with tracing.traced("unit", "work") as span:
        assert _record().correlation_id == tracing.trace_id_of(span)  # type: ignore[attr-defined]

    async def worker() -> str:
        return _record().correlation_id  # type: ignore[attr-defined,no-any-return]

    async def main() -> str:
        return await asyncio.create_task(worker(), name="unit-relay")

    assert asyncio.run(main()) == "unit-relay"
    assert _record().correlation_id is None  # type: ignore[attr-defined]  # no task, no span: start-up
