"""Durable timers against the real PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from xinren_shared.timers import Timers, TimerWorker


def worker(world, handlers) -> TimerWorker:
    return TimerWorker(service="test", table=world.tables.timer, session_factory=world.sessions, handlers=handlers)


async def test_a_due_timer_fires_exactly_once_with_two_workers_racing(world):
    timers = Timers(world.tables.timer)
    run = uuid.uuid4().hex[:8]

    async def fire(session, timer, runtime):
        await asyncio.sleep(0.01)  # widen the race window: the other worker runs meanwhile
        await world.bump(session, timer.key)

    now = datetime.now(UTC)
    async with world.sessions() as s, s.begin():
        for i in range(50):
            await timers.schedule(s, "auto_cancel", f"{run}-{i}", now - timedelta(seconds=1))
    a, b = worker(world, {"auto_cancel": fire}), worker(world, {"auto_cancel": fire})
    fired = await asyncio.gather(*(w.fire_due() for w in (a, b, a, b)))
    assert sum(fired) == 50
    assert [await world.count(f"{run}-{i}") for i in range(50)] == [1] * 50
    assert await a.fire_due() == 0


async def test_timers_not_due_wait_and_cancelled_timers_never_fire(world):
    timers = Timers(world.tables.timer)
    key_later, key_cancelled, key_moved = (f"t-{uuid.uuid4().hex}" for _ in range(3))

    async def fire(session, timer, runtime):
        await world.bump(session, timer.key)

    now = datetime.now(UTC)
    async with world.sessions() as s, s.begin():
        await timers.schedule(s, "k", key_later, now + timedelta(hours=1))
        await timers.schedule(s, "k", key_cancelled, now - timedelta(seconds=1))
        await timers.schedule(s, "k", key_moved, now + timedelta(hours=1))
        await timers.schedule(s, "k", key_moved, now - timedelta(seconds=1))  # rescheduling moves the live timer
    async with world.sessions() as s, s.begin():
        assert await timers.cancel(s, "k", key_cancelled)
    await worker(world, {"k": fire}).fire_due()
    assert (await world.count(key_later), await world.count(key_cancelled), await world.count(key_moved)) == (0, 0, 1)


async def test_a_failing_handler_is_retried_later_and_its_writes_roll_back(world):
    timers = Timers(world.tables.timer)
    key = f"t-{uuid.uuid4().hex}"
    calls = []

    async def flaky(session, timer, runtime):
        await world.bump(session, timer.key)
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("downstream not ready")

    async with world.sessions() as s, s.begin():
        await timers.schedule(s, "k", key, datetime.now(UTC) - timedelta(seconds=1))
    w = worker(world, {"k": flaky})
    assert await w.fire_due() == 1
    assert await world.count(key) == 0  # the failed attempt's write rolled back with its savepoint
    async with world.sessions() as s:
        due = await timers.pending(s, "k", key)
    assert due is not None and due > datetime.now(UTC)
    async with world.sessions() as s, s.begin():
        await timers.schedule(s, "k", key, datetime.now(UTC) - timedelta(seconds=1))
    assert await w.fire_due() == 1
    assert await world.count(key) == 1


async def test_a_handler_may_schedule_its_own_timer_again(world):
    """A recurring reminder: firing schedules the next one under the same (kind, key); both fire."""
    timers = Timers(world.tables.timer)
    key = f"t-{uuid.uuid4().hex}"

    async def again(session, timer, runtime):
        await world.bump(session, timer.key)
        if timer.payload.get("round", 1) == 1:
            await timers.schedule(session, "k", timer.key, datetime.now(UTC) - timedelta(seconds=1), {"round": 2})

    async with world.sessions() as s, s.begin():
        await timers.schedule(s, "k", key, datetime.now(UTC) - timedelta(seconds=1), {"round": 1})
    w = worker(world, {"k": again})
    assert await w.fire_due() == 1
    assert await w.fire_due() == 1
    assert await world.count(key) == 2
    async with world.sessions() as s:
        assert await timers.pending(s, "k", key) is None
