"""The service runtime keeps its background tasks running: one that fails is started again, against the real Kafka
and PostgreSQL."""

import asyncio
import logging
import os
import signal
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from xinren_shared import runtime as runtime_module
from xinren_shared.consumer import CommitsStuck
from xinren_shared.contracts.orders import OrderCancelled
from xinren_shared.events import Envelope
from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.settings import ServiceSettings

from .support import wait_until


def runtime(world, kafka_bootstrap, name, *, settings_extra=None, **spec) -> ServiceRuntime:
    settings = ServiceSettings(
        **(settings_extra or {}),
        database_url=world.url,
        kafka_bootstrap_servers=kafka_bootstrap,
        jwt_secret="runtime-test-secret-0123456789abcdef",
        run_migrations=False,
        run_relay=False,
        consistency_interval_seconds=0,
        consumer_group=f"test-{uuid.uuid4().hex}",
    )
    return ServiceRuntime(settings, ServiceSpec(name, "xinren_shared", world.tables, **spec))


def restarts(service: str, task: str) -> float:
    value = REGISTRY.get_sample_value("xinren_background_task_restarts_total", {"service": service, "task": task})
    return value or 0.0


async def test_a_background_task_that_fails_is_started_again(world, kafka_bootstrap):
    name = f"rt{uuid.uuid4().hex[:6]}"
    rt = runtime(world, kafka_bootstrap, name)
    runs: list[int] = []
    release = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise RuntimeError("a bad moment")
        await release.wait()

    try:
        rt.spawn(flaky, "flaky")

        async def restarting() -> bool:
            return "restarting" in (await rt.readiness())["workers"]

        await wait_until(restarting)  # while it waits to be started again, /readyz says so
        await wait_until(lambda: len(runs) == 2)
        assert restarts(name, "flaky") == 1
        assert (await rt.readiness())["workers"] == "ok"
    finally:
        release.set()
        await rt.stop()
    assert runs == [1, 2]


async def test_a_background_task_that_fails_as_the_service_stops_is_not_started_again(world, kafka_bootstrap, caplog):
    """As aiokafka's getmany does: it swallows the stop's cancellation and fails once the consumer is stopped under
    it. That failure is the stop: started again, the consumer would rejoin its group while the service stops."""
    name = f"rt{uuid.uuid4().hex[:6]}"
    rt = runtime(world, kafka_bootstrap, name)
    runs: list[int] = []
    cancelled, consumer_stopped = asyncio.Event(), asyncio.Event()

    async def fetching() -> None:
        runs.append(len(runs) + 1)
        while not consumer_stopped.is_set():
            try:
                await consumer_stopped.wait()
            except asyncio.CancelledError:
                cancelled.set()
                continue  # swallowed, as getmany may
        raise RuntimeError("the consumer was stopped under its fetch")

    rt.spawn(fetching, "fetching")
    await wait_until(lambda: runs == [1])
    stopping = asyncio.create_task(rt.stop())
    await cancelled.wait()  # the stop has cancelled the task, which waits on
    consumer_stopped.set()
    await stopping
    assert runs == [1]
    assert restarts(name, "fetching") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_stop_goes_on_without_a_task_that_does_not_end_and_says_where_it_waits(
    world, kafka_bootstrap, monkeypatch, caplog
):
    """A background task that ignores its cancellation does not hold up the stop: past the wait, the stop goes on
    and names the task with the stack it waits in (a warning, once), and asyncio reports nothing left unretrieved."""
    monkeypatch.setattr(runtime_module, "BACKGROUND_STOP_SECONDS", 0.5)
    name = f"rt{uuid.uuid4().hex[:6]}"
    rt = runtime(world, kafka_bootstrap, name)
    release, started = asyncio.Event(), asyncio.Event()

    async def stubborn_wait() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # a step that does not end on its cancellation

    rt.spawn(stubborn_wait, "stubborn")
    await started.wait()
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(rt.stop(), 20)
        release.set()
        await asyncio.sleep(0)  # the task ends now that it is released
    warnings = [r.getMessage() for r in caplog.records if "did not end" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"{name}-stubborn" in warnings[0] and "stubborn_wait" in warnings[0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_consumer_that_failed_rejoins_from_the_committed_offsets(world, kafka_bootstrap, publish):
    """The consumer's task failing (here: its offset commit after a batch, once) is started again as a new member
    of its group, from the committed offsets, and goes on handling events, each once."""
    name = f"rt{uuid.uuid4().hex[:6]}"
    order_id = f"ord_{uuid.uuid4().hex}"

    async def handler(session, event, ctx):
        if event.order_id == order_id:
            await world.bump(session, ctx.envelope.id)

    rt = runtime(world, kafka_bootstrap, name, event_handlers={OrderCancelled: handler})
    assert rt.consumer is not None
    commit = rt.consumer.commit_done
    failed: list[bool] = []

    async def commit_once_failing(partitions=None):
        if partitions is None and not failed:  # the commit after a batch (a rebalance's names its partitions)
            failed.append(True)
            raise RuntimeError("the coordinator went away")
        await commit(partitions)

    rt.consumer.commit_done = commit_once_failing  # type: ignore[method-assign]
    await rt.start()
    try:
        first = Envelope.of(OrderCancelled(order_id=order_id, reason="x", by="buyer"), "/xinren/order")
        await publish(first)
        await wait_until(lambda: world.count(first.id))
        await wait_until(lambda: restarts(name, "consumer") == 1)
        second = Envelope.of(OrderCancelled(order_id=order_id, reason="y", by="buyer"), "/xinren/order")
        await publish(second)
        await wait_until(lambda: world.count(second.id))
        assert rt.consumer.runs == 2
        assert [await world.count(e.id) for e in (first, second)] == [1, 1]
    finally:
        await rt.stop()


async def test_a_consumer_whose_commits_never_go_through_is_started_again(
    world, kafka_bootstrap, publish, monkeypatch, caplog
):
    """After a broker restart aiokafka can lose its group coordinator for good: records are still handled, but every
    offset commit waits on a coordinator lookup that never returns (the broker-restart fault scenario, its lag frozen
    at the last commit). Past `stuck_commits_seconds` the consumer fails and is started again as a new member, whose
    commits go through; each event is still handled once."""
    name = f"rt{uuid.uuid4().hex[:6]}"
    order_id = f"ord_{uuid.uuid4().hex}"

    async def handler(session, event, ctx):
        if event.order_id == order_id:
            await world.bump(session, ctx.envelope.id)

    lost: list[AIOKafkaConsumer] = []  # the first member: its coordinator lookup never returns
    commit = AIOKafkaConsumer.commit

    async def commit_lost_for_the_first(client, offsets=None):
        if not lost:
            lost.append(client)
        if client is lost[0]:
            await asyncio.Event().wait()
        await commit(client, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit_lost_for_the_first)
    rt = runtime(world, kafka_bootstrap, name, event_handlers={OrderCancelled: handler})
    assert rt.consumer is not None
    rt.consumer.commit_timeout_seconds, rt.consumer.stuck_commits_seconds = 0.5, 2.0

    async def committed() -> bool:
        client = rt.consumer.consumer
        return client is not lost[0] and any([await client.committed(tp) is not None for tp in client.assignment()])

    await rt.start()
    try:
        first = Envelope.of(OrderCancelled(order_id=order_id, reason="x", by="buyer"), "/xinren/order")
        await publish(first)
        await wait_until(lambda: world.count(first.id))
        await wait_until(lambda: restarts(name, "consumer") == 1, timeout=30)
        assert any(r.exc_info and isinstance(r.exc_info[1], CommitsStuck) for r in caplog.records), caplog.records
        second = Envelope.of(OrderCancelled(order_id=order_id, reason="y", by="buyer"), "/xinren/order")
        await publish(second)
        await wait_until(lambda: world.count(second.id))
        await wait_until(committed)
        assert rt.consumer.runs == 2
        assert [await world.count(e.id) for e in (first, second)] == [1, 1]
    finally:
        await rt.stop()


async def test_a_worker_stops_itself_once_its_parent_is_gone(monkeypatch):
    """kill -9 of uvicorn's main process left its workers serving as orphans; each now stops as SIGTERM stops it."""
    parents = iter([4242, 4242, 4242, 1])
    killed: list[tuple[int, int]] = []
    monkeypatch.setattr(runtime_module.os, "getppid", lambda: next(parents))
    monkeypatch.setattr(runtime_module.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    await asyncio.wait_for(runtime_module.exit_with_parent(poll_seconds=0.01), 5)
    assert killed == [(os.getpid(), signal.SIGTERM)]


async def test_a_snapshot_sees_one_moment_and_writes_nothing(world, kafka_bootstrap):
    """Every read of a snapshot sees the database as it was at its first: a commit landing between two reads of a
    view (an order's after-sales case, then its steps) shows in neither, where plain READ COMMITTED would show it in
    the second only. And a snapshot refuses to write. The connection goes back to the pool as it was."""
    rt = runtime(world, kafka_bootstrap, f"rt{uuid.uuid4().hex[:6]}")
    key = f"k{uuid.uuid4().hex}"
    count = text("SELECT coalesce(sum(n), 0) FROM effect WHERE key = :k").bindparams(k=key)
    try:
        async with rt.snapshot() as session:
            assert (await session.execute(count)).scalar_one() == 0
            async with world.sessions() as other, other.begin():
                await world.bump(other, key)
            assert (await session.execute(count)).scalar_one() == 0  # the commit between the reads: unseen
            assert (await session.execute(text("SHOW transaction_isolation"))).scalar_one() == "repeatable read"
        async with rt.transaction() as session:
            assert (await session.execute(count)).scalar_one() == 1
            assert (await session.execute(text("SHOW transaction_isolation"))).scalar_one() == "read committed"
            assert (await session.execute(text("SHOW transaction_read_only"))).scalar_one() == "off"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with rt.snapshot() as session:
                await world.bump(session, key)
        assert await world.count(key) == 1
    finally:
        await rt.stop()


async def test_the_consumer_asks_the_broker_to_hold_an_empty_fetch_100_ms_at_most(world, kafka_bootstrap):
    """Kafka's default is 500 ms; a fetch sent while some partitions' records are being handled leaves them out, and
    their next records wait for it to come back. The setting reaches the Kafka client the consumer starts."""

    async def handler(session, event, ctx) -> None:
        return None

    handlers = {OrderCancelled: handler}
    assert ServiceSettings.model_fields["consumer_fetch_max_wait_ms"].default == 100
    rt = runtime(world, kafka_bootstrap, f"rt{uuid.uuid4().hex[:6]}", event_handlers=handlers)
    assert rt.consumer is not None and rt.consumer.fetch_max_wait_ms == 100
    tuned = runtime(
        world,
        kafka_bootstrap,
        f"rt{uuid.uuid4().hex[:6]}",
        settings_extra={"consumer_fetch_max_wait_ms": 40},
        event_handlers=handlers,
    )
    assert tuned.consumer is not None
    await tuned.consumer.start()
    try:
        assert tuned.consumer.consumer is not None
        assert tuned.consumer.consumer._fetch_max_wait_ms == 40  # the started client's own setting
    finally:
        await tuned.consumer.stop()


async def test_a_burst_beyond_the_pool_waits_for_a_kept_connection_and_opens_none(world, kafka_bootstrap):
    """Every connection is kept (no overflow): a connection opened for a burst and closed after it costs a new server
    process and its statements prepared again just when the database is slowest (a disk stall held the commits back,
    and the order service's intake never caught up). A request beyond the pool waits for one, then has it."""
    assert ServiceSettings.model_fields["db_max_overflow"].default == 0
    rt = runtime(world, kafka_bootstrap, f"rt{uuid.uuid4().hex[:6]}", settings_extra={"db_pool_size": 2})
    backend = text("SELECT pg_backend_pid()")
    try:
        async with rt.transaction() as first, rt.transaction() as second:
            held = {(await s.execute(backend)).scalar_one() for s in (first, second)}
            beyond = asyncio.create_task(_backend_of(rt, backend))
            await asyncio.sleep(0)  # it asks for a connection while both are held
            done, _ = await asyncio.wait([beyond], timeout=0.3)
            assert not done  # waiting, not opening a third
        assert await asyncio.wait_for(beyond, 5) in held  # one of the two, handed on
        assert rt.engine.pool.checkedout() == 0 and rt.engine.pool.size() == 2
    finally:
        await rt.stop()


async def _backend_of(rt: ServiceRuntime, statement) -> int:
    async with rt.transaction() as session:
        return (await session.execute(statement)).scalar_one()


def pooled(world, kafka_bootstrap, size: int, opened_at_start: int) -> ServiceRuntime:
    extra = {"db_pool_size": size, "db_pool_open_at_start": opened_at_start}
    return runtime(world, kafka_bootstrap, f"rt{uuid.uuid4().hex[:6]}", settings_extra=extra)


async def test_the_pool_opens_its_first_connections_as_the_service_starts(world, kafka_bootstrap):
    """Opened under the first burst instead (a flash sale after a start), each connection costs a new server process,
    its codecs and a catalog lookup per array type on its first statements, just when the database is busiest: at
    670 orders/s from a fresh start the p99 was 0.5-1 s. The connections opened at start know the array types the
    services use, so no request pays for that lookup."""
    rt = pooled(world, kafka_bootstrap, size=4, opened_at_start=3)
    try:
        assert rt.engine.pool.checkedin() == 0  # nothing opened before the start
        await rt.start()
        assert rt.engine.pool.checkedin() == 3 and rt.engine.pool.checkedout() == 0
        async with rt.connection() as conn:
            varchar_array, bigint_array = 1015, 1016  # no codec of asyncpg's own: looked up in the catalog otherwise
            known = conn._protocol.get_settings()
            assert known.get_data_codec(varchar_array) is not None and known.get_data_codec(bigint_array) is not None
            assert await conn.fetchval("SELECT $1::varchar[]", ["甲", "乙"]) == ["甲", "乙"]
        # One request after another uses the connection given back last, not each open one in turn.
        backend = text("SELECT pg_backend_pid()")
        assert len({await _backend_of(rt, backend) for _ in range(4)}) == 1
    finally:
        await rt.stop()


async def test_the_pool_opens_no_more_at_start_than_it_may_hold(world, kafka_bootstrap):
    rt = pooled(world, kafka_bootstrap, size=2, opened_at_start=10)
    try:
        await asyncio.wait_for(rt.start(), 30)  # would wait for a third connection forever
        assert rt.engine.pool.checkedin() == 2
    finally:
        await rt.stop()
