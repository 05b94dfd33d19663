"""What the shared package's integration tests have in common."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from xinren_shared.outbox import OutboxRelay


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


async def stop_consuming(consumer: Any, task: asyncio.Task[Any]) -> None:
    """Ends a consumer's run() task and the consumer, as the runtime does: aiokafka's getmany can swallow the task's
    cancellation and wait on, so the consumer is stopped before the task is awaited (awaiting it first could hang)."""
    task.cancel()
    await asyncio.wait([task], timeout=5)
    await consumer.stop()
    await asyncio.gather(task, return_exceptions=True)


def relay_for(world: Any, producer: Any, service: str = "test", sessions: Any = None, **kwargs: Any) -> OutboxRelay:
    """A relay of the world's outbox (channel xinren_outbox_test), publishing with `producer` (on the world's
    sessions unless given others)."""
    return OutboxRelay(
        service=service,
        table=world.tables.outbox,
        session_factory=sessions or world.sessions,
        producer=producer,
        database_url=world.url,
        channel="xinren_outbox_test",
        **kwargs,
    )
