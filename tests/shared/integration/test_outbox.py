"""Transactional outbox and relay against the real PostgreSQL and Kafka."""

import asyncio
import uuid
from collections import defaultdict

import pytest
from sqlalchemy import select

from xinren_shared.contracts.orders import OrderCancelled, OrderShipped
from xinren_shared.outbox import Outbox, OutboxRelay


def relay_for(world, producer, **kwargs) -> OutboxRelay:
    return OutboxRelay(
        service="test",
        table=world.tables.outbox,
        session_factory=world.sessions,
        producer=producer,
        database_url=world.url,
        channel="xinren_outbox_test",
        **kwargs,
    )


def cancelled(order_id: str, reason: str = "test") -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason=reason, by="buyer")


async def test_event_commits_with_state_change_and_rollback_publishes_nothing(world, producer, event_collector):
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    kept, dropped = f"ord_{uuid.uuid4().hex}", f"ord_{uuid.uuid4().hex}"

    async with world.sessions() as s, s.begin():
        await world.bump(s, kept)
        await outbox.add(s, cancelled(kept))
    with pytest.raises(RuntimeError):
        async with world.sessions() as s, s.begin():
            await world.bump(s, dropped)
            await outbox.add(s, cancelled(dropped))
            raise RuntimeError("the state change fails after the event was added")

    assert await world.count(kept) == 1 and await world.count(dropped) == 0
    assert await world.rows(world.tables.outbox) == 1
    assert await relay_for(world, producer).drain() == 1
    await event_collector.wait_for(lambda e: e.key == kept)
    # The relay has nothing more, and the rolled-back event exists nowhere.
    assert await relay_for(world, producer).drain() == 0
    assert event_collector.envelopes(lambda e: e.key == dropped) == []


async def test_relay_wakes_on_notify(world, producer, event_collector):
    """A long poll interval: the event still goes out at once, because the commit's NOTIFY wakes the relay."""
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    relay = relay_for(world, producer, poll_seconds=120)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), 10)
        for _ in range(3):
            order_id = f"ord_{uuid.uuid4().hex}"
            async with world.sessions() as s, s.begin():
                await outbox.add(s, cancelled(order_id))
            await event_collector.wait_for(lambda e, order_id=order_id: e.key == order_id, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay.close()


async def test_relay_killed_after_publish_before_marking_publishes_again(world, producer, event_collector):
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    order_id = f"ord_{uuid.uuid4().hex}"
    async with world.sessions() as s, s.begin():
        env = await outbox.add(s, cancelled(order_id))

    async def crash(_):
        raise SystemError("relay process killed between publish and mark")

    with pytest.raises(SystemError):
        await relay_for(world, producer, after_publish=crash).publish_batch()
    await event_collector.wait_for(lambda e: e.id == env.id)
    async with world.sessions() as s:
        row = (await s.execute(select(world.tables.outbox).where(world.tables.outbox.c.event_id == env.id))).one()
    assert row.published_at is None and row.attempts == 1 and "killed" in row.last_error

    assert await relay_for(world, producer).drain() == 1
    copies = await event_collector.wait_for(lambda e: e.id == env.id, count=2)
    assert len(copies) == 2  # at least once: the same event id twice; the inbox test shows one effect


async def test_thousand_events_keep_per_key_order(world, producer, event_collector):
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    run = uuid.uuid4().hex[:8]
    keys = [f"ord_{run}_{k}" for k in range(25)]
    # Interleaved across keys, in several transactions, as real traffic would be.
    for chunk in range(10):
        async with world.sessions() as s, s.begin():
            for i in range(chunk * 100, chunk * 100 + 100):
                await outbox.add(
                    s, OrderShipped(order_id=keys[i % 25], destination="BUYER", carrier="SF", tracking_no=str(i))
                )
    relays = [relay_for(world, producer, batch_size=64) for _ in range(2)]
    # Two relays racing: the advisory lock lets one publish at a time, so order holds.
    while sum(await asyncio.gather(*(r.drain() for r in relays))):
        pass
    received = await event_collector.wait_for(lambda e: e.key.startswith(f"ord_{run}_"), count=1000, timeout=60)
    per_key = defaultdict(list)
    for env in received:
        per_key[env.key].append(int(env.data["tracking_no"]))
    assert len(per_key) == 25
    partitions = {r.partition for r in event_collector.records if r.key and r.key.decode().startswith(f"ord_{run}_")}
    assert len(partitions) > 1
    for key, seqs in per_key.items():
        assert seqs == sorted(seqs) and len(seqs) == 40, key
