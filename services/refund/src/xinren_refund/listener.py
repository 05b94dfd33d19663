"""Read-your-writes across services: a buyer's request for an order this service's view has not caught up with
waits here, holding no database connection, until the projection announces the order or the wait runs out.

The projection handlers NOTIFY `ORDER_VIEW_CHANNEL` with the order id inside their transaction (delivered at commit,
never for a rollback) when a view row is created or its payment state changes. One LISTEN connection per process
dispatches each notification to the requests waiting for that order. Notifications sent while the connection is
down are lost: on every (re)connect all waiters are woken to look again, and a waiter looks once more before it
gives up, so a lost notification can cost a wait, never a wrong answer."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import ColumnElement, func

from xinren_shared.settings import to_plain_url

log = logging.getLogger("xinren.refund.listener")

ORDER_VIEW_CHANNEL = "xinren_refund_order_view"


def announce(order_id: str) -> ColumnElement[str]:
    """The NOTIFY of an order's view change, as a column to select within the writing transaction."""
    return func.pg_notify(ORDER_VIEW_CHANNEL, order_id)


class OrderViewWatch:
    """The process's LISTEN connection on the order view, and the requests waiting for an order, keyed by its id."""

    def __init__(self, database_url: str, *, reconnect_seconds: float = 1.0):
        self.database_url = to_plain_url(database_url)
        self.reconnect_seconds = reconnect_seconds
        self.connected = asyncio.Event()
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def watching(self, order_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the order's view may have changed; the caller clears it before each look."""
        event = asyncio.Event()
        self._waiters[order_id].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(order_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[order_id]

    @property
    def waiting(self) -> int:
        """Requests waiting right now (for tests and metrics)."""
        return sum(len(w) for w in self._waiters.values())

    def _dispatch(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for event in self._waiters.get(payload, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(ORDER_VIEW_CHANNEL, self._dispatch)
                self.connected.set()
                self._wake_all()
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), 30)
                    except TimeoutError:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), 10)  # a silent network loss shows here
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("LISTEN connection failed; retrying in %.1fs", self.reconnect_seconds, exc_info=True)
            finally:
                self.connected.clear()
                if conn is not None and not conn.is_closed():
                    try:
                        await asyncio.wait_for(conn.close(), 5)
                    except (TimeoutError, OSError, asyncpg.PostgresError):
                        conn.terminate()
            await asyncio.sleep(self.reconnect_seconds)
