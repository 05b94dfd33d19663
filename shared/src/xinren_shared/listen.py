"""PostgreSQL LISTEN/NOTIFY for one process: one connection that hears the channels it is given and calls each
channel's callback with the payload, and an in-process fan-out to the tasks waiting on a key. On every (re)connect
each callback is called with None ("look again"), since notifications sent while the connection was down are lost."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

import asyncpg

from .settings import to_plain_url

log = logging.getLogger("xinren.listen")


class Waiters:
    """In-process fan-out: one asyncio.Event per waiting task, keyed (e.g. by recipient or order id)."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, key: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[key].add(event)
        return event

    def unsubscribe(self, key: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(key)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[key]

    def publish(self, key: str | None) -> None:
        """Wakes the waiters of one key, or all of them (key None)."""
        groups = self._waiters.values() if key is None else [self._waiters.get(key, set())]
        for waiters in groups:
            for event in waiters:
                event.set()

    @property
    def count(self) -> int:
        return sum(len(w) for w in self._waiters.values())


class PgListener:
    def __init__(
        self, database_url: str, channels: dict[str, Callable[[str | None], None]], *, reconnect_seconds: float = 1.0
    ):
        self.database_url = to_plain_url(database_url)
        self.channels = channels
        self.reconnect_seconds = reconnect_seconds
        self.connected = asyncio.Event()

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        callback = self.channels.get(channel)
        if callback is not None:
            callback(payload or None)

    def _wake_all(self) -> None:
        for callback in self.channels.values():
            callback(None)

    async def run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self.channels:
                    await conn.add_listener(channel, self._dispatch)
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
