"""What a service's lifespan owns: engine, producer, outbox relay, idempotent consumer, timer worker."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from . import migrate
from .consistency import Check, ConsistencyChecker
from .consumer import Batched, Handler, IdempotentConsumer
from .db import database_unavailable, make_engine, make_session_factory, open_pool
from .events import Event
from .housekeeping import Housekeeper
from .kafka import catalog_topics, ensure_topics, kafka_reachable, make_producer
from .listen import Announcer
from .metrics import BACKGROUND_RESTARTS
from .outbox import Outbox, OutboxRelay
from .settings import ServiceSettings
from .tables import InfraTables
from .timers import TimerHandler, Timers, TimerWorker

log = logging.getLogger("xinren.runtime")

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


@dataclass
class ServiceSpec:
    """How one service plugs into the shared machinery."""

    name: str  # e.g. "order": consumer group xinren-order, CloudEvents source /xinren/order
    package: str  # e.g. "xinren_order": holds migrations/
    tables: InfraTables
    event_handlers: Mapping[type[Event], Handler | Batched] = field(default_factory=dict)
    timer_handlers: dict[str, TimerHandler] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)  # the service's own consistency checks


class ServiceRuntime(Generic[SettingsT]):
    """Everything one service process owns, typed by the service's settings class."""

    def __init__(self, settings: SettingsT, spec: ServiceSpec):
        self.settings = settings
        self.spec = spec
        self.tables = spec.tables
        self.engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_seconds=settings.db_pool_timeout_seconds,
        )
        self.session_factory = make_session_factory(self.engine)
        # Sends the NOTIFYs of this process's commits (the relay's wake, the services' own channels) from outside them.
        self.announcer = Announcer(settings.database_url, service=spec.name)
        self.announcer.bind(self.engine)
        channel = f"xinren_outbox_{spec.name.replace('-', '_')}"
        self.outbox = Outbox(spec.tables.outbox, source=f"/xinren/{spec.name}", channel=channel)
        self.timers = Timers(spec.tables.timer)
        self.producer = make_producer(settings.kafka_bootstrap_servers, f"xinren-{spec.name}")
        self.relay = OutboxRelay(
            service=spec.name,
            table=spec.tables.outbox,
            session_factory=self.session_factory,
            producer=self.producer,
            database_url=settings.database_url,
            channel=channel,
            poll_seconds=settings.relay_poll_seconds,
            min_interval_seconds=settings.relay_min_interval_seconds,
        )
        self.consumer: IdempotentConsumer | None = None
        if spec.event_handlers:
            self.consumer = IdempotentConsumer(
                service=spec.name,
                name=spec.name,
                handlers=spec.event_handlers,
                session_factory=self.session_factory,
                inbox=spec.tables.inbox,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=settings.consumer_group or f"xinren-{spec.name}",
                producer=self.producer,
                runtime=self,
                max_attempts=settings.consumer_max_attempts,
                retry_base_seconds=settings.consumer_retry_base_seconds,
                partitions=settings.kafka_partitions,
                batch_size=settings.consumer_batch_size,
                commit_interval_seconds=settings.consumer_commit_interval_seconds,
                fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            )
        self.timer_worker = TimerWorker(
            service=spec.name,
            table=spec.tables.timer,
            session_factory=self.session_factory,
            handlers=spec.timer_handlers,
            runtime=self,
            poll_seconds=settings.timer_poll_seconds,
        )
        self.consistency = ConsistencyChecker(self, spec.checks)
        self.housekeeper = Housekeeper(
            service=spec.name, tables=spec.tables, settings=settings, session_factory=self.session_factory
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False
        self._failing: set[str] = set()  # background tasks waiting to be started again after a failure
        self._on_stop: list[Callable[[], Awaitable[None]]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits at the end of the block, rolls back on any exception."""
        async with self.session_factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection with no transaction open: each statement sent on it commits on its own (PostgreSQL's
        implicit transaction, deferred triggers included), in the round trip that sends it. Given back to the pool
        as it is (there is nothing to roll back); one the database dropped is not handed out again."""
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                yield raw.driver_connection
            except BaseException as exc:
                if database_unavailable(exc):
                    await connection.invalidate(exc)
                raise

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction whose statements all see one snapshot (REPEATABLE READ): a view made of several
        reads (an order with its timeline and after-sales cases) never shows half of a commit that landed between
        them. Costs no round trip more than `transaction`: asyncpg opens it with the one BEGIN."""
        async with self.session_factory() as session, session.begin():
            await session.connection(
                execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            )
            yield session

    async def start(self) -> None:
        self._stopping = False
        s = self.settings
        if s.run_migrations:
            await migrate.upgrade_async(self.spec.package, s.database_url)
        await open_pool(self.engine, min(s.db_pool_open_at_start, s.db_pool_size + max(s.db_max_overflow, 0)))
        await ensure_topics(
            s.kafka_bootstrap_servers,
            catalog_topics(),
            s.kafka_partitions,
            replication_factor=s.kafka_replication_factor,
            min_insync_replicas=s.kafka_min_insync_replicas,
        )
        await self.producer.start()
        self.spawn(self.announcer.run, "announcer")
        if s.run_relay:
            self.spawn(self.relay.run, "relay")
        if self.consumer is not None and s.run_consumers:
            await self.consumer.start()
            self.spawn(self._consume, "consumer")
        if s.run_timers and self.spec.timer_handlers:
            self.spawn(self.timer_worker.run, "timers")
        if s.consistency_interval_seconds > 0:
            self.spawn(self.consistency.loop, "consistency")
        if s.housekeeping_interval_seconds > 0:
            self.spawn(self.housekeeper.run, "housekeeping")
        if s.exit_with_parent:
            self.spawn(exit_with_parent, "parent-watch")

    async def _consume(self) -> None:
        assert self.consumer is not None
        if self.consumer.runs:
            # Started again after a failure: a new member from the committed offsets, so records fetched but not
            # handled before the failure are read again rather than skipped. The old member is given 30 s to leave:
            # one whose coordinator was lost (CommitsStuck) can wait on it forever, and is left behind.
            await _bounded(self.consumer.stop(), "failed consumer", seconds=30.0)
            await self.consumer.start()
        await self.consumer.run()

    def spawn(self, run: Callable[[], Coroutine[Any, Any, Any]], name: str) -> None:
        """Runs `run()` as a background task of the service for as long as the runtime, cancelled on stop. Should it
        fail, it is started again after a pause (1 s, doubling up to 30 s; counted in
        `xinren_background_task_restarts_total`, and /readyz reports it under "workers" meanwhile): one bad moment
        must not leave a service running without its consumer or relay."""
        task = asyncio.create_task(self._supervised(run, name), name=f"{self.spec.name}-{name}")
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def _supervised(self, run: Callable[[], Coroutine[Any, Any, Any]], name: str) -> None:
        pause = 1.0
        while True:
            started = time.monotonic()
            try:
                await run()
                return
            except Exception:
                if self._stopping:
                    # Ended by the stop: aiokafka's getmany, which can swallow the cancellation, raises
                    # ConsumerStoppedError once the consumer is stopped under it. Started again, it would rejoin.
                    log.debug("background task %s ended by the stop", name, exc_info=True)
                    return
                if time.monotonic() - started > 300:
                    pause = 1.0  # it had run well for a while: a new failure, not the same one again
                log.error("background task %s failed; starting it again in %.0f s", name, pause, exc_info=True)
                BACKGROUND_RESTARTS.labels(self.spec.name, name).inc()
            self._failing.add(name)
            try:
                await asyncio.sleep(pause)
            finally:
                self._failing.discard(name)
            pause = min(2 * pause, 30.0)

    def on_stop(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Runs `callback` on stop, once the background tasks have ended (to close what they used)."""
        self._on_stop.append(callback)

    async def stop(self) -> None:
        # Each step is bounded: a stuck step (a broker that does not answer, say) is logged and the rest still runs.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        # Stopped before its task is awaited: aiokafka's getmany can swallow a cancellation and wait on, and only the
        # consumer's stop ends it.
        if self.consumer is not None and self.settings.run_consumers:
            await _bounded(self.consumer.stop(), "consumer")
        if self._tasks:
            _, running = await asyncio.wait(self._tasks, timeout=BACKGROUND_STOP_SECONDS)
            for task in running:  # left behind, as `_bounded` leaves a step; where it waits, for whoever looks into it
                log.warning(
                    "background task %s did not end within %g s of the stop; going on without it. It waits in:\n%s",
                    task.get_name(),
                    BACKGROUND_STOP_SECONDS,
                    _awaiting(task),
                )
        self._tasks.clear()
        for callback in self._on_stop:
            await _bounded(callback(), "on_stop callback")
        await _bounded(self.relay.close(), "relay")
        self.announcer.unbind(self.engine)  # a session after the stop notifies inside its transaction
        await _bounded(self.announcer.close(), "announcer")
        await _bounded(self.producer.stop(), "producer")
        await _bounded(self.engine.dispose(), "database engine")

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2.0)
            checks["database"] = "ok"
        except Exception as exc:  # reported, not raised: /readyz answers 503
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["kafka"] = "ok" if await kafka_reachable(self.producer) else "unreachable"
        crashed = [t.get_name() for t in self._tasks if t.done()]
        failing = sorted(f"{self.spec.name}-{name}" for name in self._failing)
        problems = []
        if crashed:
            problems.append(f"stopped: {', '.join(crashed)}")
        if failing:
            problems.append(f"restarting: {', '.join(failing)}")
        checks["workers"] = "; ".join(problems) or "ok"
        return checks


async def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Stops this process, as SIGTERM does, once the process that started it is gone. A uvicorn worker whose
    supervisor was killed (kill -9 of uvicorn's main process) went on serving as an orphan: nothing restarted or
    stopped it, and it kept the service's port from the service started again."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(poll_seconds)
    log.error("the parent process %d is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)


# How long the stop waits for the cancelled background tasks to end before it goes on without them.
BACKGROUND_STOP_SECONDS = 15.0


async def _bounded(awaitable: Awaitable[Any], what: str, seconds: float = 15.0) -> None:
    """Awaits a step of a stop for `seconds` at most. One still running then is cancelled and left behind, not waited
    for: a step that does not end on its cancellation (aiokafka's stop, waiting on a lost group coordinator) cannot
    hold up the rest. A step that fails is logged; the rest still runs."""
    step = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({step}, timeout=seconds)
    if not done:
        step.cancel()
        log.warning("stopping the %s took over %.0fs; going on without it", what, seconds)
    elif not step.cancelled() and (error := step.exception()) is not None:
        log.warning("stopping the %s failed; going on", what, exc_info=error)


def _awaiting(task: asyncio.Task[Any]) -> str:
    """The chain of coroutines `task` waits in, outermost first (`Task.print_stack` shows only the outermost)."""
    lines: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(lines) < 40:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            lines.append(f'  File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}')
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s stopped", task.get_name(), exc_info=task.exception())
