"""Read-your-writes: a buyer's request on an order this service's view has not seen (or not seen paid) yet waits,
bounded, for the projection to catch up, before the command opens its transaction.

Nothing is held while waiting: each look at the view is one short read that returns its connection at once, and
between looks the request sleeps on the process's LISTEN connection (listener.py) until the projection announces
the order. An order the view knows to be another buyer's is 404 at once, as without the wait."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi.responses import JSONResponse

from xinren_shared.auth import Principal
from xinren_shared.errors import Conflict
from xinren_shared.runtime import ServiceRuntime

from . import access, queries
from .listener import OrderViewWatch
from .queries import Sight
from .settings import RefundSettings

log = logging.getLogger("xinren.refund")


class OrderNotYetVisible(Conflict):
    """The order may well exist, but this service's view has not caught up with it within the wait: retry soon.
    Answered before the command runs, so an Idempotency-Key is not spent on it."""

    code = "ORDER_NOT_YET_VISIBLE"

    def __init__(self, message: str, *, retry_after_seconds: int, details: Any):
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds

    def response(self) -> JSONResponse:
        answer = super().response()
        answer.headers["Retry-After"] = str(self.retry_after_seconds)
        return answer


async def await_order(
    runtime: ServiceRuntime[RefundSettings], watch: OrderViewWatch, principal: Principal, order_id: str
) -> None:
    """Returns once the view knows the order as the caller's and paid (or cancelled unpaid: the command then says
    so); raises 404 for another's order, 409 ORDER_NOT_YET_VISIBLE when the wait runs out."""
    settings = runtime.settings
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + settings.order_view_wait_seconds
    waited = False
    # Watching before the first look: a notification between the look and the wait is not lost.
    with watch.watching(order_id) as changed:
        while True:
            changed.clear()
            sight = await queries.order_sight(runtime, principal, order_id)
            if sight is Sight.READY:
                if waited:
                    log.info("order %s visible after %.3fs", order_id, loop.time() - started)
                return
            if sight is Sight.FOREIGN:
                raise access.order_not_found(order_id)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waited = True
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass  # one last look, then the answer
    seen = sight is Sight.UNPAID
    what = "its payment" if seen else "the order"
    raise OrderNotYetVisible(
        f"{what} is not yet known to the after-sales service (order {order_id}); retry shortly",
        retry_after_seconds=settings.order_view_retry_after_seconds,
        details={"order_id": order_id, "order_seen": seen, "waited_seconds": settings.order_view_wait_seconds},
    )
