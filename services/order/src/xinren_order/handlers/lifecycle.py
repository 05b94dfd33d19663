"""What every change of an order shares: the guarded status move with its timeline entry, the order's timers
(the auto-confirm clock among them), giving its stock back, and cancelling it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.runtime import ServiceRuntime

from .. import domain, events_out, stock
from ..domain import ORDER, OrderStatus
from ..models import OrderTimelineEntry, SalesOrder
from ..repository import case_open, unsaved_entry
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
    previous = _advance(order, target, at)
    add_timeline(session, order, previous, at=at, actor=actor, reason=reason)


def moved(order: SalesOrder, target: OrderStatus, *, at: datetime, actor: str, reason: str) -> OrderTimelineEntry:
    """`move` for a caller that writes the timeline entry itself, in a statement of its own: the entry is returned
    unsaved (`unsaved_entry`), the session does not track it."""
    previous = _advance(order, target, at)
    return unsaved_entry(
        order_id=order.order_id, at=at, from_status=previous, to_status=order.status, actor=actor, reason=reason
    )


def _advance(order: SalesOrder, target: OrderStatus, at: datetime) -> str:
    """Moves the order's status to `target` if the state machine allows it; returns the status it left."""
    previous, order.status = order.status, ORDER.require(order.status, target).value
    order.updated_at = at
    return previous


async def cancel_timers(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order_id: str, *kinds: str
) -> None:
    for kind in kinds:
        await runtime.timers.cancel(session, kind, order_id)


async def release_stock(session: AsyncSession, order: SalesOrder) -> None:
    """Gives the order's reserved stock back, once (less what refunds of single lines before shipment gave back)."""
    if order.stock_released:
        return
    released = dict(order.stock_released_items or {})
    give: dict[str, int] = {}
    for item in order.items:
        already = min(released.get(item["sku_id"], 0), int(item["quantity"]))
        released[item["sku_id"]] = released.get(item["sku_id"], 0) - already
        give[item["sku_id"]] = give.get(item["sku_id"], 0) + int(item["quantity"]) - already
    await stock.give_back(session, give)
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


# --- the auto-confirm clock -------------------------------------------------------------------------------
# It starts when the parcel leaves for the buyer (shipped + auto_confirm_after_shipment_seconds), a delivery may
# bring it earlier, the buyer may extend it once, and an open after-sales case pauses it (the remaining time is
# kept in auto_confirm_remaining_seconds). While it runs, auto_confirm_at is its due time and a timer is live.


async def run_auto_confirm(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order: SalesOrder, due: datetime, *, now: datetime
) -> None:
    """Sets the clock to `due`: running, or paused with the time left while an after-sales case is open."""
    if await case_open(session, order.order_id):
        await runtime.timers.cancel(session, TIMER_AUTO_CONFIRM, order.order_id)
        order.auto_confirm_at = None
        order.auto_confirm_remaining_seconds = max(0.0, (due - now).total_seconds())
        return
    order.auto_confirm_at, order.auto_confirm_remaining_seconds = due, None
    await runtime.timers.schedule(session, TIMER_AUTO_CONFIRM, order.order_id, due)


async def start_auto_confirm(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order: SalesOrder, *, shipped_at: datetime
) -> None:
    """The parcel left for the buyer: auto-confirm counts from now, with or without a delivery scan to come."""
    due = shipped_at + timedelta(seconds=runtime.settings.auto_confirm_after_shipment_seconds)
    await run_auto_confirm(session, runtime, order, due, now=shipped_at)


def extension(order: SalesOrder, settings: OrderSettings) -> timedelta:
    return timedelta(seconds=settings.receipt_extension_seconds if order.receipt_extended_at else 0)


async def auto_confirm_after_delivery(
    session: AsyncSession,
    runtime: ServiceRuntime[OrderSettings],
    order: SalesOrder,
    delivered_at: datetime,
    *,
    now: datetime,
) -> None:
    """A delivery may bring auto-confirm earlier, never later."""
    settings = runtime.settings
    after = timedelta(seconds=settings.auto_confirm_seconds)
    if order.auto_confirm_remaining_seconds is not None:  # paused: it may only have less time left
        candidate = domain.auto_confirm_on_delivery(None, delivered_at, after, extension(order, settings))
        left = max(0.0, (candidate - now).total_seconds())
        order.auto_confirm_remaining_seconds = min(order.auto_confirm_remaining_seconds, left)
        return
    current = order.auto_confirm_at or await runtime.timers.pending(session, TIMER_AUTO_CONFIRM, order.order_id)
    due = domain.auto_confirm_on_delivery(current, delivered_at, after, extension(order, settings))
    if due != current:
        await run_auto_confirm(session, runtime, order, due, now=now)


async def pause_auto_confirm(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order: SalesOrder, now: datetime
) -> None:
    if order.status not in domain.AWAITING_RECEIPT or order.auto_confirm_remaining_seconds is not None:
        return
    due = order.auto_confirm_at or await runtime.timers.pending(session, TIMER_AUTO_CONFIRM, order.order_id)
    if due is None:
        return
    await runtime.timers.cancel(session, TIMER_AUTO_CONFIRM, order.order_id)
    order.auto_confirm_at = None
    order.auto_confirm_remaining_seconds = max(0.0, (due - now).total_seconds())


async def resume_auto_confirm(
    session: AsyncSession, runtime: ServiceRuntime[OrderSettings], order: SalesOrder, now: datetime
) -> None:
    if order.status not in domain.AWAITING_RECEIPT or order.auto_confirm_remaining_seconds is None:
        return
    due = now + timedelta(seconds=order.auto_confirm_remaining_seconds)
    order.auto_confirm_at, order.auto_confirm_remaining_seconds = due, None
    await runtime.timers.schedule(session, TIMER_AUTO_CONFIRM, order.order_id, due)
