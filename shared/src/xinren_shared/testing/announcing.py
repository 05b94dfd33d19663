"""For tests of LISTEN/NOTIFY (xinren_shared.listen): an announcer bound to an engine and running, as a service's
runtime has it (for a test that writes through an engine of its own, as another replica would), and a listener that
collects what a channel is told."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from ..listen import Announcer
from ..settings import to_plain_url


@contextlib.asynccontextmanager
async def announcing(database_url: str, engine: AsyncEngine, **kw: Any) -> AsyncIterator[Announcer]:
    announcer = Announcer(database_url, **kw)
    announcer.bind(engine)
    task = asyncio.create_task(announcer.run())
    try:
        yield announcer
    finally:
        announcer.unbind(engine)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await announcer.close()


@contextlib.asynccontextmanager
async def listening(database_url: str, channel: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The payloads `channel` is told, in the order PostgreSQL delivers them, heard on a connection of its own."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(to_plain_url(database_url))
    try:
        await conn.add_listener(channel, lambda _c, _pid, _ch, payload: heard.put_nowait(payload))
        yield heard
    finally:
        await conn.close()
