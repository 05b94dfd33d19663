"""What the order's durable timers do when they fire (durations are settings: see settings.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import events_out
from ..domain import AWAITING_RECEIPT, NOT_YET_SHIPPED, OrderStatus
from ..repository import case_open, load_order
from ..settings import OrderSettings
from .lifecycle import cancel
from .settlement import complete


async def on_unpaid_timeout(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """Unpaid after 15 min: CANCELLED, stock released."""
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status != OrderStatus.CREATED:
        return
    await cancel(session, runtime, order, at=utcnow(), by="system", actor="system", reason="UNPAID_TIMEOUT")


async def on_auto_confirm(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """Shipped (or delivered) long enough ago, with no open after-sales case: COMPLETED, delivery scan or not."""
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status not in AWAITING_RECEIPT:
        return
    if await case_open(session, order.order_id):
        # A case opened as the clock ran out: paused with nothing left, so it completes once the case ends (not
        # never: the pause would otherwise have nothing to resume).
        order.auto_confirm_at, order.auto_confirm_remaining_seconds = None, 0.0
        return
    order.auto_confirm_at = None
    await complete(session, runtime, order, at=utcnow(), auto=True, actor="system")


async def on_shipping_late(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """A FAST_SHIPPING shop that has not shipped 48 h after payment: order.shipping_late, once."""
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status not in NOT_YET_SHIPPED or order.shipping_late_at is not None:
        return
    order.shipping_late_at = utcnow()
    promised_by = (
        datetime.fromisoformat(timer.payload["promised_by"]) if "promised_by" in timer.payload else timer.due_at
    )
    await runtime.outbox.add(session, events_out.shipping_late(order, promised_by))
