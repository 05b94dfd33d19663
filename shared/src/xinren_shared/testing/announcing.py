"""An announcer bound to an engine and running, as a service's runtime has it (xinren_shared.listen): for tests that
write through an engine of their own, as another replica would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..listen import Announcer


@contextlib.asynccontextmanager
async def announcing(database_url: str, engine: AsyncEngine, **kw: Any) -> AsyncIterator[Announcer]:
    announcer = Announcer(database_url, **kw)
    announcer.bind(engine)
    task = asyncio.create_task(announcer.run())
    try:
        yield announcer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await announcer.close()
