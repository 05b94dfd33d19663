"""Idempotent consumer, dead letters and replay against the real Kafka and PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest_asyncio
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SAQueuePoolTimeout

from xinren_shared.consumer import Batched, IdempotentConsumer
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered
from xinren_shared.db import database_unavailable
from xinren_shared.dlq import replay_dead_letters
from xinren_shared.events import Envelope, dlq_topic, physical
from xinren_shared.kafka import ensure_topics
from xinren_shared.testing.infra import free_port
from xinren_shared.testing.kafka import EventCollector, publish_raw

from .support import stop_consuming, wait_until


async def dead_letters_of(kafka_bootstrap: str, topic: str) -> list:
    """The records on the dead-letter topic of `topic` (a topic of one partition), once there is one."""
    dead_letters = EventCollector(kafka_bootstrap, [physical(dlq_topic(topic))], partitions=1)
    await dead_letters.start()
    try:
        return await dead_letters.wait_for_raw(dlq_topic(topic), lambda r: True)
    finally:
        await dead_letters.stop()


def cancelled(order_id: str) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason="test", by="buyer")


@pytest_asyncio.fixture
async def make_consumer(world, producer, kafka_bootstrap):
    started: list[tuple[IdempotentConsumer, asyncio.Task]] = []

    async def make(
        handler=None, *, handlers=None, max_attempts=3, batch_size=100, topics=None, **options
    ) -> IdempotentConsumer:
        consumer = IdempotentConsumer(
            service="test",
            name=f"c{uuid.uuid4().hex[:6]}",
            handlers=handlers or {OrderCancelled: handler, OrderDelivered: handler},
            topics=topics,
            session_factory=world.sessions,
            inbox=world.tables.inbox,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"test-{uuid.uuid4().hex}",
            producer=producer,
            max_attempts=max_attempts,
            retry_base_seconds=0.01,
            batch_size=batch_size,
            **options,
        )
        await consumer.start()
        started.append((consumer, asyncio.create_task(consumer.run())))
        return consumer

    yield make
    for consumer, task in started:
        await stop_consuming(consumer, task)


@pytest_asyncio.fixture
async def own_topic(producer, kafka_bootstrap):
    """`topic, put = await own_topic()`: a topic of one partition for one test, and a coroutine putting envelopes
    on it in one go. On the shared topics, other tests' records (a poison one, say) would share a test's batches."""

    async def make():
        topic = f"test.consumer.{uuid.uuid4().hex[:8]}"
        await ensure_topics(kafka_bootstrap, [physical(topic)], 1)

        async def put(*envelopes: Envelope) -> None:
            sent = []
            for envelope in envelopes:
                key, value, headers = envelope.to_kafka()
                sent.append(await producer.send(physical(topic), value=value, key=key, headers=headers))
            await asyncio.gather(*sent)

        return topic, put

    return make


async def test_same_event_twice_has_one_effect(world, make_consumer, publish):
    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    await make_consumer(handler)
    order_id = f"ord_{uuid.uuid4().hex}"
    env = Envelope.of(cancelled(order_id), "/xinren/order")
    sentinel = Envelope.of(cancelled(order_id), "/xinren/order")  # same key: same partition, after the copies
    await publish(env, env, sentinel)
    await wait_until(lambda: world.count(sentinel.id))
    assert await world.count(env.id) == 1
    async with world.sessions() as s:
        inbox = world.tables.inbox
        ids = (
            (await s.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_([env.id, sentinel.id]))))
            .scalars()
            .all()
        )
    assert sorted(ids) == sorted([env.id, sentinel.id])  # one inbox row each, whatever the redeliveries


async def test_poison_event_goes_to_dead_letters_and_partition_moves_on(
    world, make_consumer, publish, event_collector, kafka_bootstrap
):
    broken = {"on": True}
    order_id = f"ord_{uuid.uuid4().hex}"

    async def handler(session, event, ctx):
        if event.order_id == order_id and broken["on"] and isinstance(event, OrderCancelled):
            raise RuntimeError("handler bug for this event")
        await world.bump(session, ctx.envelope.id)

    consumer = await make_consumer(handler, max_attempts=3)
    poison = Envelope.of(cancelled(order_id), "/xinren/order")
    after = Envelope.of(OrderDelivered(order_id=order_id, delivered_at="2026-11-20T10:00:00Z"), "/xinren/order")
    await publish(poison, after)

    await wait_until(lambda: world.count(after.id))  # the partition moved on
    dead = await event_collector.wait_for_raw(
        "xinren.orders.v1.dlq", lambda r: dict(r.headers).get("ce_id") == poison.id.encode()
    )
    headers = dict(dead[0].headers)
    assert headers["x-dlq-error"].startswith(b"RuntimeError: handler bug")
    assert headers["x-dlq-attempts"] == b"3" and headers["x-dlq-consumer"] == consumer.name.encode()
    assert headers["x-dlq-topic"] == b"xinren.orders.v1" and headers["x-dlq-offset"].isdigit()
    assert await world.count(poison.id) == 0

    broken["on"] = False  # the bug is fixed
    assert (
        await replay_dead_letters(kafka_bootstrap, "xinren.orders.v1", consumer=consumer.name, event_ids={poison.id})
        == 1
    )
    await wait_until(lambda: world.count(poison.id))
    # A second replay of the same dead letter is harmless: the inbox skips what was handled.
    sentinel = Envelope.of(cancelled(order_id), "/xinren/order")
    assert (
        await replay_dead_letters(kafka_bootstrap, "xinren.orders.v1", consumer=consumer.name, event_ids={poison.id})
        == 1
    )
    await publish(sentinel)
    await wait_until(lambda: world.count(sentinel.id))
    assert await world.count(poison.id) == 1


async def test_malformed_record_is_dead_lettered_without_crashing(
    world, make_consumer, publish, event_collector, kafka_bootstrap
):
    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    await make_consumer(handler)
    key = f"ord_{uuid.uuid4().hex}".encode()
    marker = uuid.uuid4().hex.encode()
    await publish_raw(kafka_bootstrap, "xinren.orders.v1", key=key, value=b"{not json", headers=[("marker", marker)])
    bad_data = [
        ("ce_specversion", b"1.0"),
        ("ce_id", marker),
        ("ce_source", b"/x"),
        ("ce_type", b"xinren.order.cancelled"),
        ("content-type", b"application/json"),
    ]
    await publish_raw(kafka_bootstrap, "xinren.orders.v1", key=key, value=b'{"order_id": 5}', headers=bad_data)
    after = Envelope.of(cancelled(key.decode()), "/xinren/order")
    await publish(after)
    await wait_until(lambda: world.count(after.id))
    dead = await event_collector.wait_for_raw("xinren.orders.v1.dlq", lambda r: r.key == key, count=2)
    errors = sorted(dict(r.headers)["x-dlq-error"].decode() for r in dead)
    assert any("not a CloudEvent" in e for e in errors) and any("does not fit" in e for e in errors)


async def test_a_backlog_is_handled_in_batches_and_a_poison_event_inside_one_does_not_stop_the_rest(
    world, make_consumer, own_topic, kafka_bootstrap
):
    """Events waiting on one partition share transactions (their inbox rows share the transaction time); a poison
    event rolls its batch of 10 back and that batch is handled record by record: the poison goes to the dead
    letters alone, the others are handled once and in order, and the other batches stay batched."""
    order_id = f"ord_{uuid.uuid4().hex}"  # one key: one partition, one order
    envelopes = [Envelope.of(cancelled(order_id), "/xinren/order") for _ in range(41)]
    poison = envelopes[20]
    topic, put = await own_topic()
    await put(*envelopes)
    handled: list[str] = []

    async def handler(session, event, ctx):
        if ctx.envelope.id == poison.id:
            raise RuntimeError("cannot handle this one")
        await world.bump(session, ctx.envelope.id)
        handled.append(ctx.envelope.id)

    consumer = await make_consumer(handler, max_attempts=2, batch_size=10, topics=[topic])
    last = envelopes[-1]
    await wait_until(lambda: world.count(last.id))
    dead = await dead_letters_of(kafka_bootstrap, topic)
    assert [dict(r.headers)["ce_id"] for r in dead] == [poison.id.encode()]  # the poison alone
    good = [e.id for e in envelopes if e.id != poison.id]
    assert [await world.count(i) for i in good] == [1] * 40 and await world.count(poison.id) == 0
    kept = [i for i in dict.fromkeys(reversed(handled)) if i in good][::-1]  # the last run of each, in order
    assert kept == good
    inbox = world.tables.inbox
    async with world.sessions() as s:
        times = (
            await s.execute(
                select(inbox.c.handled_at).where(inbox.c.consumer == consumer.name, inbox.c.event_id.in_(good))
            )
        ).scalars()
        # Batches of offsets 0-9, 10-19, 20-29 (the poison's: its 9 others one by one), 30-39 and 40; a backlog
        # fetched in two parts may split one more.
        assert 13 <= len(set(times)) <= 15


def delivered(order_id: str) -> OrderDelivered:
    return OrderDelivered(order_id=order_id, delivered_at=datetime.now(UTC))


async def test_a_batched_handler_is_given_each_run_of_its_events_at_once_in_order(world, make_consumer, own_topic):
    """A `Batched` handler gets a batch's fresh events of its types together: the run before another type's event in
    one call, the run after it in another, in order, a copy of an event already handled left out."""
    order_id = f"ord_{uuid.uuid4().hex}"
    first = [Envelope.of(cancelled(order_id), "/xinren/order") for _ in range(4)]
    between = Envelope.of(delivered(order_id), "/xinren/order")
    then = [Envelope.of(cancelled(order_id), "/xinren/order") for _ in range(2)]
    topic, put = await own_topic()
    await put(*first, between, then[0], first[0], then[1])  # first[0] twice: a redelivery
    calls: list[list[str]] = []

    async def many(session, items):
        calls.append([ctx.envelope.id for _, ctx in items])
        for _, ctx in items:
            await world.bump(session, ctx.envelope.id)

    async def one(session, event, ctx):
        calls.append([ctx.envelope.id])
        await world.bump(session, ctx.envelope.id)

    await make_consumer(handlers={OrderCancelled: Batched(many), OrderDelivered: one}, topics=[topic])
    await wait_until(lambda: world.count(then[-1].id))
    everything = [*first, between, *then]
    assert [i for call in calls for i in call] == [e.id for e in everything]  # each once, in order
    assert [await world.count(e.id) for e in everything] == [1] * 7
    # One fetch brings the eight records: [first 4], [between], [then 2]; a backlog fetched in two parts may split
    # a run, never join two.
    assert calls[0] == [e.id for e in first[: len(calls[0])]] and len(calls[0]) > 1
    assert 3 <= len(calls) <= 4


async def test_a_batched_handler_gets_one_event_at_a_time_once_its_batch_failed(
    world, make_consumer, own_topic, kafka_bootstrap
):
    """A poison event among a batched handler's events fails the call for all of them: the batch rolls back and is
    handled record by record, the handler given one event at a time; the poison goes to the dead letters alone."""
    order_id = f"ord_{uuid.uuid4().hex}"
    envelopes = [Envelope.of(cancelled(order_id), "/xinren/order") for _ in range(6)]
    poison = envelopes[3]
    topic, put = await own_topic()
    await put(*envelopes)
    calls: list[list[str]] = []

    async def many(session, items):
        ids = [ctx.envelope.id for _, ctx in items]
        calls.append(ids)
        for i in ids:
            await world.bump(session, i)
        if poison.id in ids:
            raise RuntimeError("cannot handle this one")

    await make_consumer(handlers={OrderCancelled: Batched(many)}, max_attempts=2, topics=[topic])
    dead = await dead_letters_of(kafka_bootstrap, topic)
    await wait_until(lambda: world.count(envelopes[-1].id))
    assert [dict(r.headers)["ce_id"] for r in dead] == [poison.id.encode()]
    good = [e.id for e in envelopes if e is not poison]
    assert [await world.count(i) for i in good] == [1] * 5 and await world.count(poison.id) == 0
    failed = next(n for n, call in enumerate(calls) if poison.id in call and len(call) > 1)
    after = calls[failed + 1 :]
    assert after and all(len(call) == 1 for call in after)  # one by one once the batch failed
    assert [call[0] for call in after if call[0] != poison.id] == [i for i in good if i in calls[failed]]


async def test_a_batch_the_database_aborted_for_a_deadlock_is_tried_again_whole(world, make_consumer, own_topic):
    """A deadlock (another partition's batch locking the same rows in another order) aborts the batch's transaction:
    the batch is tried again as a batch, not handled record by record, and every event is handled once."""
    order_id = f"ord_{uuid.uuid4().hex}"
    envelopes = [Envelope.of(cancelled(order_id), "/xinren/order") for _ in range(10)]
    topic, put = await own_topic()
    await put(*envelopes)
    aborted: list[str] = []

    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)
        if not aborted and ctx.envelope.id == envelopes[5].id:
            aborted.append(ctx.envelope.id)
            # What PostgreSQL raises in the transaction it picks to break a deadlock.
            await session.execute(
                text("DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$")
            )

    consumer = await make_consumer(handler, batch_size=10, topics=[topic])
    await wait_until(lambda: world.count(envelopes[-1].id))
    assert aborted == [envelopes[5].id]
    assert [await world.count(e.id) for e in envelopes] == [1] * 10
    inbox = world.tables.inbox
    async with world.sessions() as s:
        ours = inbox.c.event_id.in_([e.id for e in envelopes])
        times = (await s.execute(select(inbox.c.handled_at).where(inbox.c.consumer == consumer.name, ours))).scalars()
        # One transaction for the ten (two should they arrive in two fetches): tried again whole, not one by one.
        assert 1 <= len(set(times)) <= 2


async def test_a_failing_lag_report_does_not_stop_the_consumer(world, make_consumer, own_topic, monkeypatch):
    """The lag gauge reads each assigned partition's high watermark; a rebalance that takes a partition away while
    that runs made aiokafka fail the read ("Partition is not assigned"), which ended the consumer's task for good
    (its partitions stayed assigned to a member that no longer read them). A gauge never stops consuming."""
    topic, put = await own_topic()
    first, second = (Envelope.of(cancelled(f"ord_{uuid.uuid4().hex}"), "/xinren/order") for _ in range(2))

    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    consumer = await make_consumer(handler, topics=[topic], lag_interval_seconds=0.0)
    reads = {"n": 0}

    def revoked(tp):
        reads["n"] += 1
        raise AssertionError("Partition is not assigned")

    assert consumer.consumer is not None
    monkeypatch.setattr(consumer.consumer, "highwater", revoked)
    await put(first)
    await wait_until(lambda: world.count(first.id))
    await wait_until(lambda: reads["n"] > 0)  # the lag was read after the batch, and failed
    await put(second)
    await wait_until(lambda: world.count(second.id))  # and the consumer goes on


async def test_offsets_are_committed_after_a_rebalance_took_a_partition_away(world, make_consumer, own_topic):
    """A member that handled records of a partition a rebalance then gave to another member must not try to commit
    it again: Kafka refuses a commit naming a partition the member does not own, whole, so every later commit
    failed too and the group's offsets stood still (lag that never went down, everything redelivered on restart)."""
    topic, put = await own_topic()
    first, second = (Envelope.of(cancelled(f"ord_{uuid.uuid4().hex}"), "/xinren/order") for _ in range(2))

    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    consumer = await make_consumer(handler, topics=[topic])
    await put(first)
    await wait_until(lambda: world.count(first.id))
    assert consumer.consumer is not None
    (mine,) = consumer.consumer.assignment()
    # What a member is left with when its commit at revocation failed: handled offsets of a partition now elsewhere.
    consumer._done[TopicPartition(mine.topic, 7)] = 5
    await put(second)
    await wait_until(lambda: world.count(second.id))

    async def committed() -> bool:
        return await consumer.consumer.committed(mine) == 2  # both records, committed

    await wait_until(committed)


async def test_a_failed_offset_commit_is_tried_again_without_new_records(world, make_consumer, own_topic, monkeypatch):
    """A commit that fails (the coordinator busy with a rebalance, say) is tried again at the next poll, not only
    when more records come: a quiet partition's offsets would otherwise lag until its next event."""
    topic, put = await own_topic()
    only = Envelope.of(cancelled(f"ord_{uuid.uuid4().hex}"), "/xinren/order")

    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    consumer = await make_consumer(handler, topics=[topic])
    assert consumer.consumer is not None
    commit = consumer.consumer.commit
    refused: list[bool] = []

    async def refused_once(offsets=None):
        if not refused:
            refused.append(True)
            raise CommitFailedError("the group is rebalancing")
        await commit(offsets)

    monkeypatch.setattr(consumer.consumer, "commit", refused_once)
    await put(only)
    await wait_until(lambda: world.count(only.id))
    (mine,) = consumer.consumer.assignment()

    async def committed() -> bool:
        return await consumer.consumer.committed(mine) == 1

    await wait_until(committed)
    assert refused == [True]


async def test_offsets_are_committed_at_the_interval_and_at_stop_not_after_every_batch(world, make_consumer, own_topic):
    topic, put = await own_topic()
    envelopes = [Envelope.of(cancelled(f"ord_{uuid.uuid4().hex}"), "/xinren/order") for _ in range(3)]

    async def handler(session, event, ctx):
        await world.bump(session, ctx.envelope.id)

    consumer = await make_consumer(handler, topics=[topic], commit_interval_seconds=3600)
    assert consumer.consumer is not None
    first, *later = envelopes  # three polls' worth
    await put(first)
    await wait_until(lambda: world.count(first.id))
    (mine,) = consumer.consumer.assignment()

    async def committed_up_to(offset: int) -> bool:
        assert consumer.consumer is not None
        return bool(await consumer.consumer.committed(mine) == offset)

    await wait_until(lambda: committed_up_to(1))  # the first batch's, just after its transaction
    for envelope in later:
        await put(envelope)
        await wait_until(lambda envelope=envelope: world.count(envelope.id))
    # Batches are handled one after another: the second's commit, had it been due, came before the third was handled.
    assert await committed_up_to(1)  # the interval had not passed
    await consumer.stop()  # leaving commits what was handled
    admin = AIOKafkaAdminClient(bootstrap_servers=consumer.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(consumer.group_id)
    finally:
        await admin.close()
    assert offsets[mine].offset == 3


async def test_a_database_outage_is_waited_out_not_dead_lettered(world, make_consumer, publish, event_collector):
    order_id = f"ord_{uuid.uuid4().hex}"
    outage = {"calls": 0}

    async def handler(session, event, ctx):
        if event.order_id == order_id and outage["calls"] < 7:  # far more than max_attempts
            outage["calls"] += 1
            # What asyncpg raises while PostgreSQL restarts, as SQLAlchemy wraps it.
            raise DBAPIError("INSERT …", {}, asyncpg.CannotConnectNowError("the database system is starting up"))
        await world.bump(session, ctx.envelope.id)

    await make_consumer(handler, max_attempts=3)
    event = Envelope.of(cancelled(order_id), "/xinren/order")
    await publish(event)
    await wait_until(lambda: world.count(event.id))
    assert outage["calls"] == 7 and await world.count(event.id) == 1
    assert not [
        r for r in event_collector.raw("xinren.orders.v1.dlq") if dict(r.headers).get("ce_id") == event.id.encode()
    ]


async def test_what_counts_as_the_database_being_unavailable(world):
    try:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), timeout=2)
    except Exception as exc:
        refused = exc
    assert database_unavailable(refused)
    assert database_unavailable(DBAPIError("SELECT 1", {}, asyncpg.AdminShutdownError("terminating connection")))
    assert database_unavailable(SAQueuePoolTimeout("QueuePool limit reached"))
    # A pooled connection the server closed (a restart): asyncpg refuses it before sending anything.
    assert database_unavailable(DBAPIError("BEGIN", {}, asyncpg.InterfaceError("connection is closed")))
    assert not database_unavailable(
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
    )
    # A refusal of what was asked is the event's failure, not an outage.
    assert not database_unavailable(DBAPIError("INSERT …", {}, asyncpg.UniqueViolationError("duplicate key")))
    assert not database_unavailable(RuntimeError("handler bug"))
