"""Database engine and sessions (SQLAlchemy async over asyncpg), one engine per service."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection, QueuePool

from .metrics import DB_POOL_WAIT, register_live
from .settings import to_async_url


class MeteredPool(AsyncAdaptedQueuePool):
    """The default async pool, timing each checkout and counting the checkouts under way (those waiting for a
    free connection or opening a new one) for `xinren_db_pool_*`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.database = ""
        self.waiting = 0
        with _POOLS_LOCK:
            _POOLS.add(self)

    def recreate(self) -> QueuePool:
        fresh = super().recreate()  # engine.dispose() swaps in a fresh pool: it reports under the same name
        if isinstance(fresh, MeteredPool):
            fresh.database = self.database
        return fresh

    def connect(self) -> PoolProxiedConnection:
        started = time.perf_counter()
        self.waiting += 1
        try:
            return super().connect()
        finally:
            self.waiting -= 1
            DB_POOL_WAIT.labels(self.database).observe(time.perf_counter() - started)


class _PoolCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "in_use": GaugeMetricFamily(
                "xinren_db_pool_in_use", "Connections checked out of the pool", labels=["database"]
            ),
            "idle": GaugeMetricFamily("xinren_db_pool_idle", "Open connections idle in the pool", labels=["database"]),
            "max": GaugeMetricFamily(
                "xinren_db_pool_max", "Connections the pool may open (size plus overflow)", labels=["database"]
            ),
            "waiting": GaugeMetricFamily(
                "xinren_db_pool_waiting", "Checkouts under way: waiting for a connection", labels=["database"]
            ),
        }
        totals: dict[str, dict[str, float]] = {}
        with _POOLS_LOCK:
            pools = list(_POOLS)
        for pool in pools:
            row = totals.setdefault(pool.database, dict.fromkeys(families, 0.0))
            row["in_use"] += pool.checkedout()
            row["idle"] += pool.checkedin()
            row["max"] += pool.size() + max(pool._max_overflow, 0)
            row["waiting"] += pool.waiting
        for database, row in sorted(totals.items()):
            for key, family in families.items():
                family.add_metric([database], row[key])
        yield from families.values()


_POOLS: weakref.WeakSet[MeteredPool] = weakref.WeakSet()
_POOLS_LOCK = threading.Lock()
register_live(_PoolCollector())


def make_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_timeout_seconds: float = 30.0,
    recycle_seconds: int = 1800,
) -> AsyncEngine:
    # No ping before every checkout (a round trip per request): connections are recycled after `recycle_seconds`,
    # and one that turns out dead is invalidated on its error so the next checkout opens a fresh one.
    url = to_async_url(database_url)
    engine = create_async_engine(
        url,
        poolclass=MeteredPool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_seconds,
        pool_recycle=recycle_seconds,
        pool_pre_ping=False,
        # The connection given back last is handed out first: a steady load keeps using the few it needs (their
        # server processes' caches and their prepared statements warm), and the rest wait for a burst. Taken in
        # turn instead, every open connection would serve the load, each with its caches cold at first.
        pool_use_lifo=True,
    )
    pool = engine.sync_engine.pool
    if isinstance(pool, MeteredPool):
        pool.database = make_url(url).database or ""
    return engine


# Array types asyncpg has no built-in codec for (text[] it has: the services bind their lists of strings as text[]).
# It looks such a type up in the catalog the first time a statement of a connection uses it: a slow recursive query
# (5-25 ms here) and two more round trips that turn JIT off and on around it. A connection opened at start asks for
# all of them at once, so that no request pays that on it.
_ARRAY_TYPES = ("varchar[]", "bigint[]", "integer[]", "jsonb[]", "uuid[]", "timestamptz[]", "boolean[]")
_KNOW_ARRAY_TYPES = "SELECT " + ", ".join(f"${i}::{t}" for i, t in enumerate(_ARRAY_TYPES, 1))


async def open_pool(engine: AsyncEngine, connections: int) -> None:
    """Opens `connections` of the engine's pool now and gives them back to it. Opening one costs a new server process,
    its codecs and its first statements' preparation: a pool that opens them only under a burst (the first seconds
    of a flash sale after a start) pays that when the database is busiest, and the requests queued meanwhile ask for
    more. Measured at 670 orders/s from a fresh start: p99 0.5-1 s, with every connection opened during the burst."""

    async def open_one(held: AsyncExitStack) -> None:
        connection = await held.enter_async_context(engine.connect())
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        await driver.prepare(_KNOW_ARRAY_TYPES)

    async with AsyncExitStack() as held, asyncio.TaskGroup() as opening:
        for _ in range(connections):
            opening.create_task(open_one(held))


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session


_NAMED_LOCK = text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))")


async def lock_name(session: AsyncSession, space: int, name: str) -> None:
    """Waits for, then holds to the end of the session's transaction, the lock of `name` among the names of `space`
    (a number per kind of thing). Requests that check something and then write it (a seal not yet used, an owner's
    quota) take turns on its name, so the second checks after the first has committed."""
    await session.execute(_NAMED_LOCK, {"space": space, "name": name})


# SQLSTATEs of a server that cannot serve now (connection exceptions, shutdown, start-up, too many connections).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# Refused or lost connections, connect and pool timeouts, a connection the server dropped.
_UNREACHABLE = (OSError, TimeoutError, sa_exc.TimeoutError, asyncpg.ConnectionDoesNotExistError)


def causes(exc: BaseException | None, depth: int = 6) -> Iterator[BaseException]:
    """`exc` and what lies under it: the driver's error SQLAlchemy wraps (`orig`), and each cause or context, down
    to `depth` levels; where a database error's SQLSTATE is to be found."""
    seen = 0
    while exc is not None and seen < depth:
        yield exc
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException):
            yield orig
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


def _closed(exc: BaseException) -> bool:
    """asyncpg's refusal to use a connection it already knows is closed (the server ended it: a restart, a
    terminated backend), which it raises as a bare InterfaceError (SQLAlchemy's asyncpg dialect reads it the same)."""
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


# A deadlock or a serialization failure: the database aborted the transaction (or statement) for another one's sake,
# and nothing of it was written; trying again is expected to go through.
_LOCK_CONFLICT_STATES = ("40P01", "40001")


def lock_conflict(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) is the database undoing the work to break a deadlock or a conflict."""
    return any(getattr(candidate, "sqlstate", None) in _LOCK_CONFLICT_STATES for candidate in causes(exc))


def database_unavailable(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) says the database cannot be reached or cannot serve right now, as opposed
    to refusing what was asked: the work should wait and retry, not be judged a failure."""
    for candidate in causes(exc):
        if isinstance(candidate, _UNREACHABLE) or _closed(candidate):
            return True
        if isinstance(candidate, sa_exc.DBAPIError) and candidate.connection_invalidated:
            return True
        sqlstate = getattr(candidate, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_STATES):
            return True
    return False
