"""The service's own view of each order, fed by `xinren.orders.v1` (the service never reads the order database)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderShipped,
)
from xinren_shared.contracts.qc import QcCaseOpened, QcPassed
from xinren_shared.contracts.vocabulary import AfterSaleReason
from xinren_shared.ids import utcnow

from .. import listener, repository
from ..domain import variants
from ..models import OrderView
from ..settings import RefundSettings
from . import platform_refunds
from .cases import CaseContext

Ctx = EventContext[RefundSettings]

# Order view statuses, in the order an order moves through them (a stale event never moves the view back).
_VIEW_RANK = {"CREATED": 0, "PAID": 1, "SHIPPED": 2, "DELIVERED": 3, "COMPLETED": 4, "CANCELLED": 5, "REFUNDED": 6}


def advance(view: OrderView, status: str, at: datetime) -> None:
    if _VIEW_RANK.get(status, -1) > _VIEW_RANK.get(view.status, -1):
        view.status = status
    view.updated_at = at


async def _learn(s: AsyncSession, event: OrderCreated | OrderPaid, total_fen: int) -> OrderView:
    """The parties, items and rights of an order, from whichever of its first two events arrives first; the
    other only fills gaps (the rights the order was placed under: order.created's copy wins)."""
    items = [i.model_dump(mode="json") for i in event.items]
    rights = [str(r) for r in event.trust_rights]
    values = dict(
        buyer_id=event.buyer_id,
        shop_id=event.shop_id,
        items=items,
        trust_rights=rights,
        total_fen=total_fen,
        qc_required=event.qc_required,
    )
    view = await repository.upsert_view(s, event.order_id, values, announce=True)
    view.buyer_id = view.buyer_id or event.buyer_id
    view.shop_id = view.shop_id or event.shop_id
    view.items = view.items or items
    view.trust_rights = view.trust_rights or rights
    view.qc_required = view.qc_required or event.qc_required
    return view


async def on_order_created(s: AsyncSession, event: OrderCreated, ctx: Ctx) -> None:
    view = await _learn(s, event, event.total_fen)
    view.total_fen = view.total_fen or event.total_fen
    view.updated_at = utcnow()


async def on_order_paid(s: AsyncSession, event: OrderPaid, ctx: Ctx) -> None:
    view = await _learn(s, event, sum(i.unit_price_fen * i.quantity for i in event.items))
    view.paid_fen = event.paid_fen
    view.paid_at = view.paid_at or event.paid_at or ctx.envelope.time
    if event.return_address is not None:
        view.return_address = event.return_address.model_dump(mode="json")
    cx = CaseContext.of(s, ctx.runtime)
    advance(view, "PAID", cx.now)
    if view.pending_qc_outcome:
        outcome, view.pending_qc_outcome = view.pending_qc_outcome, None
        await platform_refunds.apply_qc_outcome(cx, view, outcome)


async def _reach(s: AsyncSession, order_id: str, status: str) -> OrderView | None:
    """Locks the view and moves it on to `status` (never back); None for an order this service never saw."""
    view = await repository.lock_order(s, order_id)
    if view is not None:
        advance(view, status, utcnow())
    return view


async def on_order_shipped(s: AsyncSession, event: OrderShipped, ctx: Ctx) -> None:
    if (view := await _reach(s, event.order_id, "SHIPPED")) is not None:
        view.shipped_at = view.shipped_at or ctx.envelope.time


async def on_order_delivered(s: AsyncSession, event: OrderDelivered, ctx: Ctx) -> None:
    if (view := await _reach(s, event.order_id, "DELIVERED")) is not None:
        view.delivered_at = event.delivered_at
        view.shipped_at = view.shipped_at or event.delivered_at
        if event.variants:  # each line's other variants, for an exchange (domain/variants.py)
            view.items = variants.with_variants(view.items, event.variants)


async def on_order_completed(s: AsyncSession, event: OrderCompleted, ctx: Ctx) -> None:
    if (view := await _reach(s, event.order_id, "COMPLETED")) is not None:
        view.completed_at = view.completed_at or ctx.envelope.time


async def on_order_cancelled(s: AsyncSession, event: OrderCancelled, ctx: Ctx) -> None:
    view = await _reach(s, event.order_id, "CANCELLED")
    if view is None:
        return
    view.cancelled_at = view.cancelled_at or ctx.envelope.time
    if view.paid_fen <= 0:
        # A request waiting for this order's payment can stop waiting: it will not come.
        listener.announce(s, view.order_id)
    if event.was_paid:
        # A paid order cancelled before shipment: the platform refunds it, no review (the order service moves no
        # money itself).
        detail = f"order cancelled by {event.by}: {event.reason}"
        cx = CaseContext.of(s, ctx.runtime)
        await platform_refunds.open_full_refund(cx, view, AfterSaleReason.CANCELLED_BEFORE_SHIPMENT, detail)


async def on_qc_case_opened(s: AsyncSession, event: QcCaseOpened, ctx: Ctx) -> None:
    """Where the item is inspected: a certified item's return goes back to that warehouse. QC events come on another
    topic than the order's, so the view may not exist yet."""
    parties = dict(buyer_id=event.buyer_id, shop_id=event.shop_id)
    news = dict(qc_warehouse_address=event.warehouse_address, updated_at=utcnow())
    await repository.upsert_view(s, event.order_id, parties, news=news)


async def on_qc_passed(s: AsyncSession, event: QcPassed, ctx: Ctx) -> None:
    """The platform vouched for the item: a later counterfeit claim on it is the platform's case. QC events come on
    another topic than the order's, so the view may not exist yet."""
    parties = dict(buyer_id=event.buyer_id, shop_id=event.shop_id)
    news = dict(certificate_no=event.certificate_no, updated_at=utcnow())
    await repository.upsert_view(s, event.order_id, parties, news=news)
