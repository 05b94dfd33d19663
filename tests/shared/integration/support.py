"""What the shared package's integration tests have in common."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def wait_until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 20.0) -> None:
    """Polls `condition` (a plain or an async callable) until it holds; fails after `timeout` seconds."""

    async def poll() -> None:
        while True:
            held = condition()
            if inspect.isawaitable(held):
                held = await held
            if held:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)
