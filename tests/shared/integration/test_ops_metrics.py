"""The metrics the alerts read, against the real Kafka and PostgreSQL: consumer lag and handler time, dead letters
waiting until a replay, the oldest unpublished outbox row, overdue timers, connection pools, business counters."""

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import text

from xinren_shared.business_metrics import count_business_event
from xinren_shared.consumer import IdempotentConsumer
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered
from xinren_shared.db import make_engine
from xinren_shared.dlq import replay_dead_letters
from xinren_shared.events import Envelope
from xinren_shared.outbox import _RELAY_LOCK, Outbox
from xinren_shared.timers import Timers, TimerWorker

from .support import relay_for, stop_consuming, wait_until


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_lag_handler_time_and_dead_letters_until_replayed(world, producer, kafka_bootstrap, publish):
    service, name, group = f"m{uuid.uuid4().hex[:8]}", f"c{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex}"
    # A topic of its own: no other test's consumer dead-letters anything there while this one counts.
    topic = f"xinren.opsmetrics{uuid.uuid4().hex[:8]}.v1"
    order_id = f"ord_{uuid.uuid4().hex}"
    broken = {"on": True}
    handled: set[str] = set()

    async def handler(session, event, ctx):
        if event.order_id == order_id and broken["on"] and isinstance(event, OrderCancelled):
            raise RuntimeError("handler bug")
        handled.add(ctx.envelope.id)

    consumer = IdempotentConsumer(
        service=service,
        name=name,
        handlers={OrderCancelled: handler, OrderDelivered: handler},
        session_factory=world.sessions,
        inbox=world.tables.inbox,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        producer=producer,
        max_attempts=2,
        retry_base_seconds=0.01,
        topics=[topic],
        lag_interval_seconds=0.0,
        dlq_depth_interval_seconds=0.2,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        poison = replace(
            Envelope.of(OrderCancelled(order_id=order_id, reason="x", by="buyer"), "/xinren/order"), topic=topic
        )
        delivered = OrderDelivered(order_id=order_id, delivered_at="2026-11-20T10:00:00Z")
        after = replace(Envelope.of(delivered, "/xinren/order"), topic=topic)
        await publish(poison, after)
        await wait_until(lambda: after.id in handled, timeout=30.0)

        timed = sample("xinren_event_handler_seconds_count", service=service, consumer=name, type=after.type)
        assert timed is not None and timed >= 1
        depth = {"service": service, "consumer": name, "topic": topic}
        await wait_until(lambda: sample("xinren_dlq_depth", **depth) == 1, timeout=30.0)
        # Every partition this group was assigned is caught up, and at least one reported.
        lags = [
            s.value
            for metric in REGISTRY.collect()
            if metric.name == "xinren_consumer_lag"
            for s in metric.samples
            if s.labels["group"] == group
        ]
        assert lags and all(v == 0 for v in lags)

        broken["on"] = False  # fixed: a replay of this consumer's dead letters empties its queue
        assert await replay_dead_letters(kafka_bootstrap, topic, consumer=name) == 1
        await wait_until(lambda: poison.id in handled, timeout=30.0)
        await wait_until(lambda: sample("xinren_dlq_depth", **depth) == 0, timeout=30.0)
    finally:
        await stop_consuming(consumer, task)


async def test_oldest_unpublished_outbox_row_ages_until_published(world, producer):
    service = f"m{uuid.uuid4().hex[:8]}"
    outbox = Outbox(world.tables.outbox, source="/xinren/test", channel="xinren_outbox_test")
    async with world.sessions() as session, session.begin():
        await outbox.add(session, OrderCancelled(order_id=f"ord_{uuid.uuid4().hex}", reason="x", by="buyer"))
        await session.execute(text("UPDATE outbox_event SET created_at = now() - interval '300 seconds'"))

    async def kafka_refuses(_):
        raise ConnectionError("broker gone")

    try:
        await relay_for(world, producer, service, after_publish=kafka_refuses).publish_batch()
    except ConnectionError:
        pass
    age = sample("xinren_outbox_oldest_unpublished_seconds", service=service)
    assert age is not None and age >= 299
    await asyncio.sleep(1.1)
    assert sample("xinren_outbox_oldest_unpublished_seconds", service=service) >= age + 1  # ages at scrape time
    assert await relay_for(world, producer, service).drain() >= 1
    assert sample("xinren_outbox_oldest_unpublished_seconds", service=service) == 0


async def test_a_standing_by_relay_reports_the_same_oldest_age(world, producer):
    """Several workers (or replicas): the one whose relay found another publishing still tells the age of the
    oldest pending row, read from the database, so a scrape answered by any of them pages alike."""
    service = f"m{uuid.uuid4().hex[:8]}"
    outbox = Outbox(world.tables.outbox, source="/xinren/test", channel="xinren_outbox_test")
    async with world.sessions() as session, session.begin():
        await outbox.add(session, OrderCancelled(order_id=f"ord_{uuid.uuid4().hex}", reason="x", by="buyer"))
        await session.execute(text("UPDATE outbox_event SET created_at = now() - interval '300 seconds'"))
    relay = relay_for(world, producer, service)
    async with world.engine.connect() as other:  # the publishing replica, in the middle of a batch
        await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
        assert await relay.publish_batch() == 0 and relay.standing_by
        age = sample("xinren_outbox_oldest_unpublished_seconds", service=service)
        assert age is not None and 299 <= age < 400
        await other.rollback()
    assert await relay.drain() == 1
    assert sample("xinren_outbox_oldest_unpublished_seconds", service=service) == 0
    assert await relay.publish_batch() == 0 and not relay.standing_by


async def test_overdue_timers_are_counted_and_aged(world):
    service = f"m{uuid.uuid4().hex[:8]}"
    timers = Timers(world.tables.timer)
    now = datetime.now(UTC)
    async with world.sessions() as session, session.begin():
        await timers.schedule(session, "late", uuid.uuid4().hex, now - timedelta(seconds=90))
        await timers.schedule(session, "late", uuid.uuid4().hex, now - timedelta(seconds=30))
        await timers.schedule(session, "later", uuid.uuid4().hex, now + timedelta(hours=1))
    worker = TimerWorker(service=service, table=world.tables.timer, session_factory=world.sessions, handlers={})
    await worker.next_due_in()
    assert sample("xinren_timers_overdue", service=service) == 2
    assert sample("xinren_timer_oldest_overdue_seconds", service=service) >= 89


async def test_pool_reports_connections_in_use_and_checkout_time(world):
    engine = make_engine(world.url, pool_size=2, max_overflow=1)
    database = world.url.rsplit("/", 1)[1]
    try:
        waited = sample("xinren_db_pool_wait_seconds_count", database=database) or 0
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            assert sample("xinren_db_pool_in_use", database=database) >= 1
            assert sample("xinren_db_pool_max", database=database) >= 3
        assert sample("xinren_db_pool_wait_seconds_count", database=database) >= waited + 1
    finally:
        await engine.dispose()


def test_business_counters_count_published_events():
    def envelope(type_: str, **data) -> Envelope:
        return Envelope(type=type_, source="/xinren/order", data=data, topic="xinren.orders.v1", key="o1")

    gmv, paid = sample("xinren_gmv_fen_total") or 0, sample("xinren_orders_total", step="paid") or 0
    refunded, failed = (
        sample("xinren_refunded_fen_total") or 0,
        sample("xinren_qc_verdicts_total", verdict="failed") or 0,
    )
    count_business_event(envelope("xinren.order.paid", order_id="o1", paid_fen=12_345))
    count_business_event(envelope("xinren.order.refunded", order_id="o1", amount_fen=345))
    count_business_event(envelope("xinren.qc.failed", order_id="o1"))
    count_business_event(envelope("xinren.order.shipped", order_id="o1"))  # not a business counter: nothing
    assert sample("xinren_gmv_fen_total") == gmv + 12_345
    assert sample("xinren_orders_total", step="paid") == paid + 1
    assert sample("xinren_refunded_fen_total") == refunded + 345
    assert sample("xinren_qc_verdicts_total", verdict="failed") == failed + 1
