"""What every change of an order shares: the guarded status move with its timeline entry, the order's timers,
giving its stock back, and cancelling it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.runtime import ServiceRuntime

from .. import events_out
from ..domain import ORDER, OrderStatus
from ..models import OrderTimelineEntry, Product, SalesOrder
from ..settings import OrderSettings

TIMER_UNPAID = "order.unpaid_cancel"
TIMER_AUTO_CONFIRM = "order.auto_confirm"
TIMER_SHIPPING_LATE = "order.shipping_late"


def add_timeline(
    session: AsyncSession, order: SalesOrder, from_status: str | None, *, at: datetime, actor: str, reason: str
) -> OrderTimelineEntry:
    entry = OrderTimelineEntry(
        order_id=order.order_id, at=at, from_status=from_status, to_status=order.status, actor=actor, reason=reason
    )
    session.add(entry)
    return entry


def move(
    session: AsyncSession, order: SalesOrder, target: OrderStatus, *, at: datetime, actor: str, reason: str
) -> None:
    """The one way an order's status changes: allowed by the state machine (staying put included: a repeated
    command is a 409, not a no-op), and recorded on the timeline."""
    previous, order.status = order.status, ORDER.require(order.status, target).value
    order.updated_at = at
    add_timeline(session, order, previous, at=at, actor=actor, reason=reason)


async def cancel_timers(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order_id: str, *kinds: str
) -> None:
    for kind in kinds:
        await runtime.timers.cancel(session, kind, order_id)


async def release_stock(session: AsyncSession, order: SalesOrder) -> None:
    """Gives the order's reserved stock back, once."""
    if order.stock_released:
        return
    for item in sorted(order.items, key=lambda i: i["sku_id"]):
        await session.execute(
            update(Product)
            .where(col(Product.sku_id) == item["sku_id"])
            .values(stock_available=col(Product.stock_available) + item["quantity"])
            .execution_options(synchronize_session=False)
        )
    order.stock_released = True


async def cancel(
    session: AsyncSession,
    runtime: ServiceRuntime[OrderSettings],
    order: SalesOrder,
    *,
    at: datetime,
    by: str,
    actor: str,
    reason: str,
) -> None:
    move(session, order, OrderStatus.CANCELLED, at=at, actor=actor, reason=reason)
    order.cancelled_at = at
    await release_stock(session, order)
    await cancel_timers(session, runtime, order.order_id, TIMER_UNPAID, TIMER_SHIPPING_LATE)
    await runtime.outbox.add(session, events_out.cancelled(order, reason=reason, by=by))
