"""Durable timers: rows with a due time, claimed with FOR UPDATE SKIP LOCKED so that each fires once.

Scheduling the same (kind, key) again moves the live timer; cancelling removes it. A handler runs in the
claiming transaction (inside a savepoint): its writes and the timer's `fired_at` commit together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import StatusCode
from sqlalchemy import Table, Update, and_, bindparam, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import sql, tracing
from .metrics import TIMER_OLDEST_OVERDUE, TIMERS_FIRED, TIMERS_OVERDUE

log = logging.getLogger("xinren.timers")

_LIVE = text("fired_at IS NULL AND cancelled_at IS NULL")
# Overdue timers are counted up to this many (a range scan of the due-time index, bounded however large a backlog).
OVERDUE_COUNTED = 10_000


@dataclass(frozen=True)
class DueTimer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]


TimerHandler = Callable[[AsyncSession, DueTimer, Any], Awaitable[None]]


class Timers:
    """Schedules and cancels timers inside the caller's transaction."""

    def __init__(self, table: Table):
        self.table = table

    async def schedule(
        self, session: AsyncSession, kind: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        params = {"kind": kind, "key": key, "due_at": due_at, "payload": payload or {}}
        await self._schedule.execute(await sql.driver(session), params)

    @functools.cached_property
    def _schedule(self) -> sql.Statement:
        c = self.table.c
        return sql.Statement(
            self.schedule_statement(
                bindparam("kind", type_=c.kind.type),
                bindparam("key", type_=c.key.type),
                bindparam("due_at", type_=c.due_at.type),
                bindparam("payload", type_=c.payload.type),
            )
        )

    def schedule_statement(self, kind: Any, key: Any, due_at: Any, payload: Any = None) -> Insert:
        """The statement `schedule` sends, for a caller that sends it itself: inside another statement (a
        data-modifying CTE writes the timer with the row it belongs to in one round trip), or built once with bind
        parameters for its values (`bindparam("due_at")`) so that it is compiled once."""
        stmt = insert(self.table).values(kind=kind, key=key, due_at=due_at, payload={} if payload is None else payload)
        return stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            index_where=_LIVE,
            set_={"due_at": stmt.excluded.due_at, "payload": stmt.excluded.payload},
        )

    async def cancel(self, session: AsyncSession, kind: str, key: str) -> bool:
        return bool(await self._cancel.fetch(await sql.driver(session), {"kind": kind, "key": key}))

    @functools.cached_property
    def _cancel(self) -> sql.Statement:
        c = self.table.c
        cancel = self.cancel_statement(bindparam("kind", type_=c.kind.type), bindparam("key", type_=c.key.type))
        return sql.Statement(cancel.returning(c.id))

    def cancel_statement(self, kind: Any, key: Any) -> Update:
        """The statement `cancel` sends (without its RETURNING), for a caller that sends it inside another one (a
        data-modifying CTE), as `schedule_statement`."""
        t = self.table
        live = and_(t.c.kind == kind, t.c.key == key, t.c.fired_at.is_(None), t.c.cancelled_at.is_(None))
        return update(t).where(live).values(cancelled_at=func.now())

    async def pending(self, session: AsyncSession, kind: str, key: str) -> datetime | None:
        t = self.table
        return (
            await session.execute(
                select(t.c.due_at).where(
                    and_(t.c.kind == kind, t.c.key == key, t.c.fired_at.is_(None), t.c.cancelled_at.is_(None))
                )
            )
        ).scalar()


class TimerWorker:
    def __init__(
        self,
        *,
        service: str,
        table: Table,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: dict[str, TimerHandler],
        runtime: Any = None,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        max_backoff_seconds: float = 300.0,
    ):
        self.service = service
        self.table = table
        self.session_factory = session_factory
        self.handlers = handlers
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.max_backoff_seconds = max_backoff_seconds

    async def fire_due(self) -> int:
        """Fires the timers due now (one batch); returns how many were claimed."""
        t = self.table
        async with self.session_factory() as session, session.begin():
            rows = (
                await session.execute(
                    select(t)
                    .where(and_(t.c.fired_at.is_(None), t.c.cancelled_at.is_(None), t.c.due_at <= func.now()))
                    .order_by(t.c.due_at)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                # Each firing is a trace of its own: its id is the correlation id of the handler's log lines and the
                # traceparent of the events it writes.
                with tracing.traced(
                    self.service, f"timer {row.kind}", attributes={"xinren.timer.key": row.key}
                ) as span:
                    timer = DueTimer(row.id, row.kind, row.key, row.due_at, row.payload or {})
                    handler = self.handlers.get(row.kind)
                    try:
                        if handler is None:
                            raise LookupError(f"no handler for timer kind {row.kind!r}")
                        async with session.begin_nested():
                            # Marked fired first, so that a handler scheduling its own (kind, key) again makes a new
                            # live timer instead of moving this one; a failure rolls both back with the savepoint.
                            await session.execute(
                                update(t).where(t.c.id == row.id).values(fired_at=func.now(), attempts=t.c.attempts + 1)
                            )
                            await handler(session, timer, self.runtime)
                        TIMERS_FIRED.labels(self.service, row.kind, "fired").inc()
                    except Exception as exc:
                        span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                        delay = min(self.max_backoff_seconds, 2 ** min(row.attempts, 16))
                        log.warning(
                            "timer %s/%s failed (attempt %d), retry in %ss: %s",
                            row.kind,
                            row.key,
                            row.attempts + 1,
                            delay,
                            exc,
                        )
                        await session.execute(
                            update(t)
                            .where(t.c.id == row.id)
                            .values(
                                attempts=t.c.attempts + 1,
                                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                                due_at=datetime.now(UTC) + timedelta(seconds=delay),
                            )
                        )
                        TIMERS_FIRED.labels(self.service, row.kind, "failed").inc()
            return len(rows)

    async def next_due_in(self) -> float:
        """Seconds until the next live timer is due; also refreshes the overdue gauges, in the same query."""
        t = self.table
        overdue = (
            select(literal(1)).select_from(t).where(_LIVE, t.c.due_at <= func.now()).limit(OVERDUE_COUNTED).subquery()
        )
        async with self.session_factory() as session:
            row = (
                await session.execute(
                    select(func.min(t.c.due_at), select(func.count()).select_from(overdue).scalar_subquery()).where(
                        _LIVE
                    )
                )
            ).one()
        due: datetime | None = row[0]
        TIMERS_OVERDUE.labels(self.service).set(row[1])
        TIMER_OLDEST_OVERDUE.record(self.service, due)
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, (due - datetime.now(UTC)).total_seconds()))

    async def run(self) -> None:
        while True:
            try:
                while await self.fire_due() == self.batch_size:
                    pass
                await asyncio.sleep(await self.next_due_in())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer worker failed")
                await asyncio.sleep(self.poll_seconds)
