"""Transactional outbox and relay against the real PostgreSQL and Kafka."""

import asyncio
import time
import uuid
from collections import defaultdict

import asyncpg
import pytest
from sqlalchemy import select, text

from xinren_shared.contracts.orders import OrderCancelled, OrderShipped
from xinren_shared.db import make_engine, make_session_factory
from xinren_shared.outbox import Outbox, OutboxRelay
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.announcing import announcing
from xinren_shared.testing.roundtrips import RoundTrips

from .support import relay_for, wait_until


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
    """A long poll interval: the event still goes out at once, because the NOTIFY the announcer sends once the
    transaction has committed wakes the relay."""
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    relay = relay_for(world, producer, poll_seconds=120)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), 10)
        async with announcing(world.url, world.engine):
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


def counting(relay: OutboxRelay) -> list[int]:
    """The sizes of the batches `relay` publishes (0 for a claim that found nothing or found the lock taken)."""
    sizes: list[int] = []
    publish = relay.publish_batch

    async def counted() -> int:
        n = await publish()
        sizes.append(n)
        return n

    relay.publish_batch = counted  # type: ignore[method-assign]
    return sizes


async def test_a_drain_ends_with_the_first_batch_that_is_not_full(world, producer, event_collector):
    """A batch smaller than the batch size took every row pending at its claim: no empty claim after it (a
    transaction per wake saved); rows committed later announce themselves."""
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    keys = [f"ord_{uuid.uuid4().hex}" for _ in range(5)]
    async with world.sessions() as s, s.begin():
        for key in keys:
            await outbox.add(s, cancelled(key))
    relay = relay_for(world, producer, batch_size=2)
    sizes = counting(relay)
    assert await relay.drain() == 5
    assert sizes == [2, 2, 1]
    await event_collector.wait_for(lambda e: e.key in keys, count=5)
    sizes.clear()
    assert await relay.drain() == 0 and sizes == [0]


async def test_a_relay_that_found_the_lock_taken_stands_by_until_it_gets_it(world, producer, event_collector):
    """Another replica's relay publishing (its lock held here): this one stops answering every commit's NOTIFY and
    tries once per poll, and takes over once the lock is free."""
    from xinren_shared.outbox import _RELAY_LOCK

    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    relay = relay_for(world, producer, poll_seconds=1.0)
    sizes = counting(relay)
    other = await world.engine.connect()
    await other.begin()
    await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), 10)
        keys = [f"ord_{uuid.uuid4().hex}" for _ in range(20)]
        started = time.monotonic()
        for key in keys:  # twenty commits, twenty NOTIFYs
            async with world.sessions() as s, s.begin():
                await outbox.add(s, cancelled(key))
        await asyncio.sleep(0)
        assert relay.standing_by
        await other.rollback()  # the other replica stops publishing
        await event_collector.wait_for(lambda e: e.key in keys, count=20, timeout=15)
        await wait_until(lambda: sum(sizes) == 20)  # the batch marked published too
        elapsed = time.monotonic() - started
        # One claim per poll while standing by (plus the first, and the one that took over), not one per NOTIFY.
        assert len(sizes) <= elapsed / relay.poll_seconds + 3 < 20, (sizes, elapsed)
        assert not relay.standing_by
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay.close()
        await other.close()


async def test_under_load_the_relay_publishes_a_burst_in_a_few_batches(world, producer, event_collector):
    """Commits arriving faster than the relay's minimum interval wait for the rest of it and go out together: at
    most one batch per interval, not a transaction per commit."""
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    relay = relay_for(world, producer, poll_seconds=120, min_interval_seconds=0.3)
    sizes = counting(relay)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), 10)
        keys = [f"ord_{uuid.uuid4().hex}" for _ in range(40)]
        started = time.monotonic()
        for key in keys:
            async with world.sessions() as s, s.begin():
                await outbox.add(s, cancelled(key))
        await event_collector.wait_for(lambda e: e.key in keys, count=40, timeout=15)
        await wait_until(lambda: sum(sizes) == 40)  # every batch marked published too
        elapsed = time.monotonic() - started
        assert len(sizes) <= elapsed / relay.min_interval_seconds + 2 < 40, (sizes, elapsed)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await relay.close()


async def test_a_batch_is_four_round_trips_and_a_standing_by_try_four_too(world, producer, event_collector):
    """BEGIN, the claim (the relay's lock tried with it: only the holder claims), the mark, COMMIT. A relay that
    finds the lock taken claims nothing, reads the oldest pending row's age for its gauge, and commits."""
    from xinren_shared.outbox import _RELAY_LOCK

    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    # One connection, so that every batch below finds its statements prepared and the rows' types known.
    engine = make_engine(world.url, pool_size=1, max_overflow=0)
    try:
        relay = relay_for(world, producer, sessions=make_session_factory(engine))
        async with world.sessions() as s, s.begin():
            await outbox.add(s, cancelled(f"ord_{uuid.uuid4().hex}"))
        await relay.drain()  # what earlier tests left, and the statements prepared with a row's types
        keys = [f"ord_{uuid.uuid4().hex}" for _ in range(3)]
        async with world.sessions() as s, s.begin():
            for key in keys:
                await outbox.add(s, cancelled(key))
        with RoundTrips(engine.sync_engine) as rec:
            assert await relay.publish_batch() == 3
        assert len(rec.trips) == 4, "\n".join(t[:80] for t in rec.trips)
        assert rec.trips[0] == "BEGIN" and rec.trips[-1] == "COMMIT", rec.trips
        assert "pg_try_advisory_xact_lock" in rec.trips[1] and "FOR UPDATE SKIP LOCKED" in rec.trips[1], rec.trips
        await event_collector.wait_for(lambda e: e.key in keys, count=3)

        async with world.sessions() as s, s.begin():
            await outbox.add(s, cancelled(f"ord_{uuid.uuid4().hex}"))
        other = await world.engine.connect()
        await other.begin()
        await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})
        try:
            with RoundTrips(engine.sync_engine) as rec:
                assert await relay.publish_batch() == 0
            assert relay.standing_by and len(rec.trips) == 4, rec.trips
            pending = select(world.tables.outbox.c.seq).where(world.tables.outbox.c.published_at.is_(None))
            async with world.sessions() as s:
                assert len((await s.execute(pending)).all()) == 1  # not claimed, not marked: still the holder's
        finally:
            await other.rollback()
            await other.close()
        assert await relay.publish_batch() == 1 and not relay.standing_by
    finally:
        await engine.dispose()


async def test_a_batch_does_not_wait_for_its_commit_to_reach_the_disk(world, producer):
    """Marking rows published is the relay's only write: a commit lost in a crash publishes them again (at least
    once), so the batch's transaction turns synchronous_commit off for itself, with its claim, and for no other."""
    from xinren_shared.outbox import _RELAY_LOCK

    relay = relay_for(world, producer)
    conn = await asyncpg.connect(to_plain_url(world.url), server_settings={"synchronous_commit": "on"})
    try:
        async with conn.transaction():
            await relay._claim.fetch(conn, {"lock": _RELAY_LOCK, "limit": 1})
            assert await conn.fetchval("SHOW synchronous_commit") == "off"
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
    finally:
        await conn.close()


async def test_a_relay_whose_outbox_grew_marks_its_batches_by_key_not_by_scanning_it(world, producer):
    """A prepared statement keeps a plan once it has run a few times: the relay's mark, planned while the outbox was
    small (a fresh database, the first minutes after a deploy), scanned the whole table for every batch until
    autovacuum's analyze came. The batch's transaction plans its statements for the table as it is. One connection
    (a pool of one) publishes while the outbox is small, then after 3,000 rows: its mark scans nothing."""
    engine = make_engine(world.url, pool_size=1, max_overflow=0)
    sessions = make_session_factory(engine)
    outbox = Outbox(world.tables.outbox, "/xinren/test", "xinren_outbox_test")
    relay = relay_for(world, producer, sessions=sessions)
    seq_scans = text("SELECT pg_stat_get_xact_numscans('outbox_event'::regclass)")
    try:
        for _ in range(8):  # enough for the server to settle on a kept plan
            async with sessions() as s, s.begin():
                await outbox.add(s, cancelled(f"ord_{uuid.uuid4().hex[:8]}"))
            assert await relay.publish_batch() == 1
        async with world.sessions() as s, s.begin():  # the outbox grows (no ANALYZE: no new plan for that)
            await s.execute(
                text(
                    "INSERT INTO outbox_event (event_id, topic, key, type, source, data, occurred_at, published_at)"
                    " SELECT md5(random()::text), 't', 'k', 'x', 's', '{}', now(), now() FROM generate_series(1, 3000)"
                )
            )
        async with sessions() as s, s.begin():
            await outbox.add(s, cancelled(f"ord_{uuid.uuid4().hex[:8]}"))
        async with sessions() as s:  # the relay's connection (the pool's one): its own statistics
            before = (await s.execute(seq_scans)).scalar_one()
        assert await relay.publish_batch() == 1
        async with sessions() as s:
            after = (await s.execute(seq_scans)).scalar_one()
    finally:
        await engine.dispose()
    assert after == before, (before, after)
