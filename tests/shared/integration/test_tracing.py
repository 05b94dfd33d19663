"""One trace across two services in one process, on the shared web layer, the real PostgreSQL and Kafka: a request
to `alpha` writes an event to its outbox, `beta` consumes it and writes one of its own. The in-memory exporter shows
the request's server span, alpha's producer span, beta's consumer span and beta's producer span in the caller's
trace, each the child of the one before; the Kafka records carry the trace in their `traceparent` header."""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from fastapi import APIRouter, Request
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from xinren_shared import tracing
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered
from xinren_shared.db import make_engine, make_session_factory
from xinren_shared.logs import correlation_id
from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.settings import ServiceSettings
from xinren_shared.tables import define_infra_tables
from xinren_shared.testing.http import serve
from xinren_shared.web import build_app

from .conftest import World

PREFIX = f"trace_{uuid.uuid4().hex[:6]}_"


async def _world(make_database, name: str) -> World:
    metadata = MetaData()
    tables = define_infra_tables(metadata)
    effect = Table("effect", metadata, Column("key", String, primary_key=True), Column("n", Integer, nullable=False))
    engine = make_engine(await make_database(name))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return World(
        str(engine.url.render_as_string(hide_password=False)), engine, make_session_factory(engine), tables, effect
    )


def _settings(world: World, kafka_bootstrap: str, **values) -> ServiceSettings:
    return ServiceSettings(
        database_url=world.url.replace("+asyncpg", ""),
        kafka_bootstrap_servers=kafka_bootstrap,
        run_migrations=False,
        relay_poll_seconds=0.2,
        consistency_interval_seconds=0,
        consumer_group=f"tracing-{uuid.uuid4().hex}",
        **values,
    )


@pytest_asyncio.fixture
async def two_services(make_database, kafka_bootstrap):
    """alpha (POST /v1/ping/{order_id} writes order.cancelled) and beta (writes order.delivered for it), both
    running, with what beta's handler saw as its correlation id."""
    alpha_world, beta_world = await _world(make_database, "alpha"), await _world(make_database, "beta")
    router = APIRouter()

    @router.post("/v1/ping/{order_id}")
    async def ping(order_id: str, request: Request) -> dict[str, bool]:
        runtime: ServiceRuntime[ServiceSettings] = request.app.state.runtime
        async with runtime.transaction() as session:
            await runtime.outbox.add(session, OrderCancelled(order_id=order_id, reason="ping", by="buyer"))
        return {"ok": True}

    seen: dict[str, str | None] = {}

    async def on_cancelled(session, event: OrderCancelled, ctx) -> None:
        if not event.order_id.startswith(PREFIX):
            return  # another test's event on the session's topic
        seen[event.order_id] = correlation_id.get()
        await ctx.runtime.outbox.add(session, OrderDelivered(order_id=event.order_id, delivered_at=datetime.now(UTC)))

    alpha_settings = _settings(alpha_world, kafka_bootstrap)
    alpha = build_app(
        alpha_settings,
        ServiceRuntime(alpha_settings, ServiceSpec("alpha", "xinren_shared", alpha_world.tables)),
        title="alpha",
        routers=[router],
    )
    beta_settings = _settings(beta_world, kafka_bootstrap)
    beta_spec = ServiceSpec("beta", "xinren_shared", beta_world.tables, event_handlers={OrderCancelled: on_cancelled})
    beta = build_app(beta_settings, ServiceRuntime(beta_settings, beta_spec), title="beta", routers=[])
    try:
        async with serve(alpha) as client, serve(beta):
            yield client, alpha_world, seen
    finally:
        await alpha_world.engine.dispose()
        await beta_world.engine.dispose()


@pytest.fixture
def exporter():
    exported = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exported)
    tracing.add_processor(processor)
    yield exported
    tracing.remove_processor(processor)


def _traceparent(sampled: bool) -> tuple[str, str, str]:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id, span_id


async def _header_of(event_collector, order_id: str, type_: str) -> str:
    (record,) = [
        r
        for r in await event_collector.wait_for_raw(
            OrderCancelled.TOPIC, lambda r: r.key == order_id.encode() and ("ce_type", type_.encode()) in r.headers
        )
    ]
    return dict(record.headers)["traceparent"].decode()


async def test_one_trace_from_the_request_through_both_services(two_services, exporter, event_collector):
    client, alpha_world, seen = two_services
    given, trace_id, caller_span = _traceparent(sampled=True)
    order_id = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    answer = await client.post(f"/v1/ping/{order_id}", headers={"traceparent": given})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == trace_id

    # The outbox row keeps the request's trace; both Kafka records carry it on.
    async with alpha_world.sessions() as s:
        kept = (await s.execute(select(alpha_world.tables.outbox.c.traceparent))).scalar_one()
    assert tracing.trace_id_of_traceparent(kept) == trace_id
    cancelled_header = await _header_of(event_collector, order_id, "xinren.order.cancelled")
    delivered_header = await _header_of(event_collector, order_id, "xinren.order.delivered")
    assert tracing.trace_id_of_traceparent(cancelled_header) == trace_id
    assert tracing.trace_id_of_traceparent(delivered_header) == trace_id
    assert seen[order_id] == trace_id  # beta's handler logs under the request's trace id

    def spans_of_trace():
        return [s for s in exporter.get_finished_spans() if s.context.trace_id == int(trace_id, 16)]

    deadline = time.monotonic() + 10
    while len(spans_of_trace()) < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    by_kind = {(s.resource.attributes["service.name"], s.kind): s for s in spans_of_trace()}
    server = by_kind[("xinren-alpha", SpanKind.SERVER)]
    alpha_publish = by_kind[("xinren-alpha", SpanKind.PRODUCER)]
    beta_process = by_kind[("xinren-beta", SpanKind.CONSUMER)]
    beta_publish = by_kind[("xinren-beta", SpanKind.PRODUCER)]
    assert server.name == "POST /v1/ping/{order_id}" and server.attributes["http.response.status_code"] == 200
    assert server.parent.span_id == int(caller_span, 16) and server.parent.is_remote
    assert alpha_publish.parent.span_id == server.context.span_id
    assert beta_process.parent.span_id == alpha_publish.context.span_id
    assert beta_publish.parent.span_id == beta_process.context.span_id
    # The record's header is the producer span's context: the consumer's parent is exactly that.
    assert cancelled_header.split("-")[2] == f"{alpha_publish.context.span_id:016x}"
    assert beta_process.attributes["messaging.destination.name"] == OrderCancelled.TOPIC


async def test_unrecorded_traces_still_carry_their_id_across(two_services, event_collector):
    """No exporter: nothing is recorded, and the trace id still goes from the request to the second service's
    event (and its log lines)."""
    client, _, seen = two_services
    given, trace_id, _ = _traceparent(sampled=False)
    order_id = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    assert (await client.post(f"/v1/ping/{order_id}", headers={"traceparent": given})).status_code == 200
    delivered_header = await _header_of(event_collector, order_id, "xinren.order.delivered")
    assert tracing.trace_id_of_traceparent(delivered_header) == trace_id
    assert seen[order_id] == trace_id
    # Without a caller's trace, a request starts one of its own.
    order_id = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    answer = await client.post(f"/v1/ping/{order_id}")
    delivered_header = await _header_of(event_collector, order_id, "xinren.order.delivered")
    assert tracing.trace_id_of_traceparent(delivered_header) == answer.headers["x-request-id"] == seen[order_id]
