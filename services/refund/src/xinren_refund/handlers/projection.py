"""The service's own view of each order, fed by `xinren.orders.v1` (the service never reads the order database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from ..models import VIEW_RANK, OrderView
from ..settings import RefundSettings
from . import platform_refunds
from .cases import CaseContext

Ctx = EventContext[RefundSettings]


def advance(view: OrderView, status: str, at: datetime) -> None:
    if VIEW_RANK.get(status, -1) > VIEW_RANK.get(view.status, -1):
        view.status = status
    view.updated_at = at


def _learned(event: OrderCreated | OrderPaid, total_fen: int, status: str, at: datetime) -> dict[str, Any]:
    """What either of an order's first two events tells its view (`repository.learn`)."""
    return dict(
        order_id=event.order_id,
        buyer_id=event.buyer_id,
        shop_id=event.shop_id,
        items=[i.model_dump(mode="json") for i in event.items],
        trust_rights=[str(r) for r in event.trust_rights],
        total_fen=total_fen,
        qc_required=event.qc_required,
        status=status,
        updated_at=at,
    )


async def on_order_created(s: AsyncSession, event: OrderCreated, ctx: Ctx) -> None:
    await repository.learn(s, _learned(event, event.total_fen, "CREATED", utcnow()), paid=False)


async def on_order_paid(s: AsyncSession, event: OrderPaid, ctx: Ctx) -> None:
    cx = CaseContext.of(s, ctx.runtime)
    values = _learned(event, sum(i.unit_price_fen * i.quantity for i in event.items), "PAID", cx.now)
    values["paid_fen"] = event.paid_fen
    values["paid_at"] = event.paid_at or ctx.envelope.time
    values["return_address"] = event.return_address.model_dump(mode="json") if event.return_address else None
    if await repository.learn(s, values, paid=True):
        # A QC failure or expiry came first (another topic): its refund starts now that the payment is known.
        view = await repository.lock_order(s, event.order_id)
        assert view is not None and view.pending_qc_outcome is not None
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
    await repository.note_on_view(s, event.order_id, parties, news)


async def on_qc_passed(s: AsyncSession, event: QcPassed, ctx: Ctx) -> None:
    """The platform vouched for the item: a later counterfeit claim on it is the platform's case. QC events come on
    another topic than the order's, so the view may not exist yet."""
    parties = dict(buyer_id=event.buyer_id, shop_id=event.shop_id)
    news = dict(certificate_no=event.certificate_no, updated_at=utcnow())
    await repository.note_on_view(s, event.order_id, parties, news)
