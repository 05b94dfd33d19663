"""Response shaping: table rows to the API's public models (what each principal may see)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.auth import Principal, Role
from xinren_shared.contracts.vocabulary import TrustRight

from . import domain, schemas
from .access import SHOP_STAFF
from .models import (
    AfterSaleCase,
    AfterSaleTimelineEntry,
    LedgerTransaction,
    OrderTimelineEntry,
    Product,
    SalesOrder,
    Shop,
)


def format_address(a: dict[str, Any]) -> str:
    """One line for a shipping label: "name phone, province city district line1"."""
    place = " ".join(str(a.get(k, "")) for k in ("province", "city", "district", "line1"))
    return f"{a.get('name', '')} {a.get('phone', '')}, {place}".strip()


def order_public(
    order: SalesOrder,
    principal: Principal,
    timeline: list[OrderTimelineEntry],
    case_open: bool,
    cases: list[AfterSaleCase] | None = None,
    steps: list[AfterSaleTimelineEntry] | None = None,
) -> schemas.OrderPublic:
    sees_address = principal.role in (Role.ADMIN, Role.SELLER, Role.BUYER)
    return schemas.OrderPublic(
        order_id=order.order_id,
        status=order.status,
        buyer_id=order.buyer_id,
        shop_id=order.shop_id,
        host_id=order.host_id,
        live_room_id=order.live_room_id,
        items=[
            schemas.OrderItemPublic(
                sku_id=i["sku_id"],
                title=i["title"],
                category=i["category"],
                unit_price_fen=i["unit_price_fen"],
                quantity=i["quantity"],
                subtotal_fen=i["unit_price_fen"] * i["quantity"],
                qc_required=i.get("qc_required", False),
            )
            for i in order.items
        ],
        total_fen=order.total_fen,
        paid_fen=order.paid_fen,
        refunded_fen=order.refunded_fen,
        refundable_fen=domain.refundable_fen(order.paid_fen, order.refunded_fen),
        qc_required=order.qc_required,
        category=order.category,
        trust_rights=list(order.trust_rights),
        warehouse_id=order.warehouse_id,
        warehouse_address=order.warehouse_address,
        warehouse_hint=order.warehouse_hint,
        qc_case_id=order.qc_case_id,
        certificate_no=order.certificate_no,
        shipment=schemas.ShipmentInfo(
            destination=order.shipment_destination,
            carrier=order.carrier,
            tracking_no=order.tracking_no,
            shipped_at=order.shipped_at,
        ),
        host_commission_bps=order.host_commission_bps,
        payment_method=order.payment_method,
        payment_ref=order.payment_ref,
        aftersale_open=case_open,
        auto_confirm_paused=order.auto_confirm_remaining_seconds is not None,
        shipping_late_at=order.shipping_late_at,
        paid_at=order.paid_at,
        delivered_at=order.delivered_at,
        completed_at=order.completed_at,
        cancelled_at=order.cancelled_at,
        created_at=order.created_at,
        updated_at=order.updated_at,
        pay_by=order.pay_by,
        ship_by=order.ship_by,
        auto_confirm_at=order.auto_confirm_at if order.status in domain.AWAITING_RECEIPT else None,
        receipt_extended_at=order.receipt_extended_at,
        qc=_qc(order),
        shipping_address=dict(order.shipping_address) if sees_address else None,
        return_address=dict(order.return_address) if sees_address and order.return_address else None,
        aftersales=[
            schemas.AfterSaleSummary(case_id=c.case_id, type=c.type, status=c.status, due_at=c.due_at, open=c.open)
            for c in cases or []
        ],
        timeline=merged_timeline(timeline, steps or []),
    )


def merged_timeline(
    entries: list[OrderTimelineEntry], steps: list[AfterSaleTimelineEntry]
) -> list[schemas.TimelineEntry]:
    """The order's own steps (those the quality check caused marked QC) and its after-sales steps, in time order
    (a stable sort: steps of one instant keep their order within each source)."""
    merged = [
        schemas.TimelineEntry(
            at=t.at,
            status=t.to_status,
            from_status=t.from_status,
            actor=t.actor,
            reason=t.reason,
            source="QC" if t.actor.startswith("qc:") else "ORDER",
        )
        for t in entries
    ]
    merged += [
        schemas.TimelineEntry(
            at=a.at,
            status=a.status,
            from_status=None,
            actor="aftersales",
            reason=a.detail,
            source="AFTERSALES",
            case_id=a.case_id,
            event=a.event,
        )
        for a in steps
    ]
    return sorted(merged, key=lambda e: e.at)


def _qc(order: SalesOrder) -> schemas.QcInfo | None:
    if not order.qc_required:
        return None
    return schemas.QcInfo(
        case_id=order.qc_case_id,
        status=order.qc_status,
        certificate_no=order.certificate_no,
        inbound_deadline=order.qc_inbound_deadline,
    )


_Row = TypeVar("_Row", OrderTimelineEntry, AfterSaleCase, AfterSaleTimelineEntry)


async def _by_order(session: AsyncSession, row: type[_Row], ids: list[str], *order: Any) -> dict[str, list[_Row]]:
    """The rows of `row` naming any of the orders `ids`, each order's in `order`."""
    found: dict[str, list[_Row]] = {}
    for r in (await session.execute(select(row).where(col(row.order_id).in_(ids)).order_by(*order))).scalars():
        found.setdefault(r.order_id, []).append(r)
    return found


async def order_views(
    session: AsyncSession, principal: Principal, orders: list[SalesOrder], *, aftersales: bool = True
) -> list[schemas.OrderPublic]:
    """`aftersales=False` when none of the orders can have an after-sales case yet (one opens only once the refund
    service has seen the order paid): two reads fewer."""
    if not orders:
        return []
    ids = [o.order_id for o in orders]
    timeline = await _by_order(session, OrderTimelineEntry, ids, col(OrderTimelineEntry.id))
    cases: dict[str, list[AfterSaleCase]] = {}
    steps: dict[str, list[AfterSaleTimelineEntry]] = {}
    if aftersales:
        cases = await _by_order(session, AfterSaleCase, ids, col(AfterSaleCase.created_at), col(AfterSaleCase.case_id))
        steps = await _by_order(session, AfterSaleTimelineEntry, ids, col(AfterSaleTimelineEntry.id))
    return [
        order_public(
            o,
            principal,
            timeline.get(o.order_id, []),
            any(c.open for c in cases.get(o.order_id, [])),
            cases.get(o.order_id, []),
            steps.get(o.order_id, []),
        )
        for o in orders
    ]


async def order_view(
    session: AsyncSession, principal: Principal, order: SalesOrder, *, aftersales: bool = True
) -> schemas.OrderPublic:
    await session.flush()
    return (await order_views(session, principal, [order], aftersales=aftersales))[0]


def shop_public(
    shop: Shop, principal: Principal, deposit: int | None = None, seller: int | None = None
) -> schemas.ShopPublic:
    private = SHOP_STAFF.allows(principal, shop)
    return schemas.ShopPublic(
        shop_id=shop.shop_id,
        name=shop.name,
        trust_rights=[TrustRight(r) for r in shop.trust_rights],
        status=shop.status,
        strikes=shop.strikes,
        created_at=shop.created_at,
        suspended_at=shop.suspended_at,
        return_address=dict(shop.return_address) if shop.return_address else None,
        deposit_fen=deposit if private else None,
        seller_balance_fen=seller if private else None,
        guarantee_debt_fen=shop.guarantee_debt_fen if private else None,
        restock_returns=shop.restock_returns,
    )


def product_public(p: Product, policy: domain.QcPolicy, stock_available: int) -> schemas.ProductPublic:
    return schemas.ProductPublic(
        sku_id=p.sku_id,
        shop_id=p.shop_id,
        product_id=p.product_id or p.sku_id,
        title=p.title,
        category=p.category,
        price_fen=p.price_fen,
        stock_available=stock_available,
        qc_required=p.qc_required,
        warehouse_hint=policy.warehouse_hint(p.category) if p.qc_required else None,
        created_at=p.created_at,
    )


def ledger_transaction_public(t: LedgerTransaction, entries: list[tuple[str, int]]) -> schemas.LedgerTransactionPublic:
    assert t.id is not None and t.created_at is not None  # both set by the database on insert
    return schemas.LedgerTransactionPublic(
        transaction_id=t.id,
        key=t.idempotency_key,
        kind=t.kind,
        order_id=t.order_id,
        shop_id=t.shop_id,
        memo=t.memo,
        created_at=t.created_at,
        entries=[schemas.LedgerEntryPublic(account=a, amount_fen=f) for a, f in entries],
    )
