"""The order's view of its after-sales cases, from the refund service's events: which are open (an open case
pauses auto-confirm, the last one ending resumes it), their handling way and deadline for the order screen, each
step for the merged timeline, and the stock effects of per-line cases:
- a refund before shipment gives the refunded lines' quantities back to stock (never more than was reserved);
- a return received back restocks the returned quantities, unless the shop writes returns off;
- an approved exchange or reship reserves stock for the replacement (as much as there is), given back when the
  case ends without the replacement shipped; an exchange for another variant (a line's replacement_sku_id, a
  product of the same shop and variant group) reserves that SKU instead.
order.delivered names the variants of the order lines' products (variants_of), for the refund service to check an
exchange's replacement and its price difference. A QC product's replacement is inspected at the warehouse first: its
qc.* steps (they name the after-sales case) are steps of the case on the order screen, in time order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.consumer import EventContext
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts import qc as qe
from xinren_shared.contracts.vocabulary import AfterSaleStatus, AfterSaleType

from .. import stock
from ..models import AfterSaleCase, AfterSaleTimelineEntry, Product, SalesOrder, Shop
from ..repository import case_open, load_order
from ..settings import OrderSettings
from .lifecycle import pause_auto_confirm, resume_auto_confirm

_TERMINAL_CASE = {
    AfterSaleStatus.REFUNDED,
    AfterSaleStatus.CLOSED,
    AfterSaleStatus.CANCELLED,
    AfterSaleStatus.COMPLETED,
}
_ENDING = (ae.AfterSaleRefunded.TYPE, ae.AfterSaleClosed.TYPE, ae.AfterSaleReplacementDelivered.TYPE)
_REPLACED = (AfterSaleType.EXCHANGE, AfterSaleType.RESHIP)
# The order statuses in which nothing has left the shop yet: a refunded line's stock is still reserved.
_NOT_SHIPPED = {"PAID", "AWAITING_QC_INBOUND"}


async def on_aftersale_event(session: AsyncSession, event: ae.AfterSaleEvent, ctx: EventContext[OrderSettings]) -> None:
    order = await load_order(session, event.order_id, lock=True)  # serialises with confirm and auto-confirm
    if order is None:
        return
    at = ctx.envelope.time
    ends = event.TYPE in _ENDING or event.status in _TERMINAL_CASE
    case = await session.get(AfterSaleCase, event.case_id, with_for_update=True)
    session.add(_step(event, at))
    if case is None:
        case = AfterSaleCase(
            case_id=event.case_id,
            order_id=order.order_id,
            status=event.status.value,
            open=not ends,
            updated_at=at,
            created_at=at,
        )
        session.add(case)
    elif not case.open:
        return  # a case that ended stays ended
    else:
        case.status, case.open, case.updated_at = event.status.value, not ends, at
    case.type, case.due_at = event.type.value, None if ends else event.due_at
    await _stock_effects(session, order, case, event)
    await session.flush()
    if not ends:
        await pause_auto_confirm(session, ctx.runtime, order, at)
    elif not await case_open(session, order.order_id):
        await resume_auto_confirm(session, ctx.runtime, order, at)


def _step(event: ae.AfterSaleEvent, at: datetime) -> AfterSaleTimelineEntry:
    name = event.TYPE.removeprefix("xinren.aftersale.")
    detail = f"{event.type} {event.amount_fen} fen" if event.amount_fen else str(event.type)
    if isinstance(event, ae.AfterSaleReplacementShipped):
        via = " to the quality-check warehouse" if event.status is AfterSaleStatus.REPLACEMENT_INSPECTING else ""
        via = f" by warehouse {event.from_warehouse_id}" if event.from_warehouse_id else via
        detail = f"{event.type} replacement shipped{via}: {event.carrier} {event.tracking_no}"
    elif isinstance(event, ae.AfterSaleReplacementInspected):
        detail = f"{event.type} replacement inspected: {event.outcome}"
    elif isinstance(event, ae.AfterSaleMessagePosted):
        detail = f"message from the {event.author.lower()}"
    elif isinstance(event, ae.AfterSaleOfferMade):
        detail = f"counter-offer: {event.offer_type} {event.offer_amount_fen} fen"
    return AfterSaleTimelineEntry(
        order_id=event.order_id, case_id=event.case_id, at=at, event=name, status=event.status.value, detail=detail
    )


# The inspection of an exchange's or reship's replacement at the quality-check warehouse (qc.* events naming the
# after-sales case): each step on the order screen as a step of that case, `event` "qc.<step>" and `status` the
# inspection's as the QC service names it. The order's own status and QC case do not move.
_INSPECTION_STEPS: dict[type[qe.QcEvent], str] = {
    qe.QcCaseOpened: "IN_TRANSIT",
    qe.QcItemReceived: "IN_INSPECTION",
    qe.QcPassed: "PASSED",
    qe.QcFailed: "FAILED",
    qe.QcDispatched: "DISPATCHED",
    qe.QcExpired: "EXPIRED",
}


async def on_replacement_inspection(session: AsyncSession, event: qe.QcEvent, ctx: EventContext[OrderSettings]) -> None:
    """One insert, no read: the entry is keyed by the order (an event of an unknown order shows nowhere)."""
    assert event.aftersale_case_id is not None
    status = _INSPECTION_STEPS.get(type(event))
    if status is None:
        return
    if isinstance(event, qe.QcCaseOpened):
        detail = f"replacement to be inspected at warehouse {event.warehouse_id} (QC case {event.case_id})"
    elif isinstance(event, qe.QcPassed):
        detail = f"replacement passed inspection, certificate {event.certificate_no}"
    elif isinstance(event, qe.QcFailed):
        detail = f"replacement failed inspection: {event.reason.value}: {event.findings}"[:500]
    elif isinstance(event, qe.QcDispatched):
        detail = f"replacement dispatched to the {event.to.value.lower()} by {event.carrier} {event.tracking_no}"
    elif isinstance(event, qe.QcItemReceived):
        detail = "replacement arrived at the quality-check warehouse"
    else:
        detail = "replacement did not reach the quality-check warehouse in time"
    session.add(
        AfterSaleTimelineEntry(
            order_id=event.order_id,
            case_id=event.aftersale_case_id,
            at=ctx.envelope.time,
            event=event.TYPE.removeprefix("xinren."),
            status=status,
            detail=detail,
        )
    )


async def _stock_effects(
    session: AsyncSession, order: SalesOrder, case: AfterSaleCase, event: ae.AfterSaleEvent
) -> None:
    if isinstance(event, ae.AfterSaleRefunded) and order.status in _NOT_SHIPPED and not order.stock_released:
        await release_lines(session, order, {i.sku_id: i.quantity for i in event.items})
    elif isinstance(event, ae.AfterSaleReturnReceived) and not case.restocked:
        case.restocked = True
        shop = await session.get(Shop, order.shop_id)
        if shop is None or shop.restock_returns:
            await stock.give_back(session, {i.sku_id: i.quantity for i in event.items})
    elif event.type in _REPLACED and isinstance(event, ae.AfterSaleApproved | ae.AfterSaleOfferAccepted):
        if not case.replacement_reserved:
            wanted: dict[str, int] = {}
            for i in event.items:
                sku = i.replacement_sku_id or i.sku_id
                wanted[sku] = wanted.get(sku, 0) + i.quantity
            case.replacement_reserved = await _reserve(session, wanted, order.shop_id)
    elif isinstance(event, ae.AfterSaleReplacementShipped):
        case.replacement_shipped = True
    elif isinstance(event, ae.AfterSaleClosed) and case.replacement_reserved and not case.replacement_shipped:
        await stock.give_back(session, case.replacement_reserved)  # no replacement went out: the reservation goes back
        case.replacement_reserved = {}


async def release_lines(session: AsyncSession, order: SalesOrder, quantities: dict[str, int]) -> None:
    """Gives back the reserved stock of refunded lines before shipment, never more than the order reserved."""
    ordered: dict[str, int] = {}
    for item in order.items:
        ordered[item["sku_id"]] = ordered.get(item["sku_id"], 0) + int(item["quantity"])
    released = dict(order.stock_released_items or {})
    give: dict[str, int] = {}
    for sku, qty in quantities.items():
        n = min(qty, ordered.get(sku, 0) - released.get(sku, 0))
        if n > 0:
            give[sku] = n
            released[sku] = released.get(sku, 0) + n
    await stock.give_back(session, give)
    order.stock_released_items = released


async def _reserve(session: AsyncSession, quantities: dict[str, int], shop_id: str) -> dict[str, int]:
    """Takes the replacement's quantities from stock, as much as there is (the seller may ship it anyway: the case
    is the buyer's right, the shortfall is the shop's to fix); only the order's shop's products."""
    taken: dict[str, int] = {}
    for sku, qty in sorted(quantities.items()):  # sku order, as every stock writer: no deadlock between them
        product = await session.get(Product, sku)
        if product is None or product.shop_id != shop_id:
            continue
        if n := await stock.take_upto(session, sku, qty):
            taken[sku] = n
    return taken


async def variants_of(session: AsyncSession, order: SalesOrder) -> list[oe.ProductVariant]:
    """The products of the shop in the variant groups of the order's lines (the lines' own SKUs included), in one
    query; empty when no line's product has another variant."""
    skus = sorted({str(i["sku_id"]) for i in order.items})
    group = func.coalesce(col(Product.product_id), col(Product.sku_id))
    ordered = select(group).where(col(Product.sku_id).in_(skus), Product.shop_id == order.shop_id)
    stmt = (
        select(Product.sku_id, group, Product.title, Product.price_fen)
        .where(Product.shop_id == order.shop_id, group.in_(ordered.scalar_subquery()))
        .order_by(group, col(Product.sku_id))
    )
    rows = (await session.execute(stmt)).all()
    if len(rows) <= len(skus):
        return []  # every line's product is alone in its group
    return [oe.ProductVariant(sku_id=r[0], product_id=r[1], title=r[2], unit_price_fen=r[3]) for r in rows]
