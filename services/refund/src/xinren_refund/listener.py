"""Read-your-writes across services: a buyer's request for an order this service's view has not caught up with
waits here, holding no database connection, until the projection announces the order or the wait runs out.

The projection handlers notify `ORDER_VIEW_CHANNEL` with the order id once their transaction has committed (never for
a rollback) when a view row is created or its payment state changes. One LISTEN connection per process
dispatches each notification to the requests waiting for that order. Notifications sent while the connection is
down are lost: on every (re)connect all waiters are woken to look again, and a waiter looks once more before it
gives up, so a lost notification can cost a wait, never a wrong answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.listen import PgListener, Waiters, notify_after_commit

ORDER_VIEW_CHANNEL = "xinren_refund_order_view"


def announce(session: AsyncSession, order_id: str) -> None:
    """Tells the requests waiting for the order that its view may have changed, once the session's transaction
    commits."""
    notify_after_commit(session, ORDER_VIEW_CHANNEL, order_id)


class OrderViewWatch:
    """The process's LISTEN connection on the order view, and the requests waiting for an order, keyed by its id."""

    def __init__(self, database_url: str, *, reconnect_seconds: float = 1.0):
        self._waiters = Waiters()
        self._listener = PgListener(
            database_url, {ORDER_VIEW_CHANNEL: self._waiters.publish}, reconnect_seconds=reconnect_seconds
        )
        self.connected = self._listener.connected

    @contextmanager
    def watching(self, order_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the order's view may have changed; the caller clears it before each look."""
        event = self._waiters.subscribe(order_id)
        try:
            yield event
        finally:
            self._waiters.unsubscribe(order_id, event)

    @property
    def waiting(self) -> int:
        """Requests waiting right now (for tests and metrics)."""
        return self._waiters.count

    async def run(self) -> None:
        await self._listener.run()
