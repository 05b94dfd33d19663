"""The events the order service publishes (xinren.orders.v1), built from the order row in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts.vocabulary import Destination, TrustRight

from .domain import ReleaseSplit
from .models import SalesOrder


class Parties(TypedDict):
    order_id: str
    buyer_id: str
    shop_id: str


def parties(order: SalesOrder) -> Parties:
    """The fields every order event carries, so consumers can address the parties without state of their own."""
    return {"order_id": order.order_id, "buyer_id": order.buyer_id, "shop_id": order.shop_id}


def _items(order: SalesOrder) -> list[oe.OrderItem]:
    return [
        oe.OrderItem(
            sku_id=i["sku_id"],
            title=i["title"],
            category=i["category"],
            unit_price_fen=i["unit_price_fen"],
            quantity=i["quantity"],
        )
        for i in order.items
    ]


def _rights(order: SalesOrder) -> list[TrustRight]:
    return [TrustRight(r) for r in order.trust_rights]


def created(order: SalesOrder) -> oe.OrderCreated:
    return oe.OrderCreated(
        **parties(order),
        host_id=order.host_id,
        live_room_id=order.live_room_id,
        items=_items(order),
        total_fen=order.total_fen,
        qc_required=order.qc_required,
        trust_rights=_rights(order),
        pay_by=order.pay_by,
        host_commission_bps=order.host_commission_bps if order.host_id else None,
    )


def _address(value: dict[str, Any] | None) -> oe.Address | None:
    return oe.Address.model_validate(value) if value else None


def paid(order: SalesOrder) -> oe.OrderPaid:
    return oe.OrderPaid(
        **parties(order),
        host_id=order.host_id,
        items=_items(order),
        paid_fen=order.paid_fen,
        qc_required=order.qc_required,
        category=order.category,
        trust_rights=_rights(order),
        warehouse_id=order.warehouse_hint,
        paid_at=order.paid_at,
        shipping_address=_address(order.shipping_address),
        return_address=_address(order.return_address),
        ship_by=order.ship_by,
    )


def cancelled(order: SalesOrder, *, reason: str, by: str) -> oe.OrderCancelled:
    # A paid order's money goes back through the refund service (REFUND_ONLY case -> refund.requested).
    return oe.OrderCancelled(**parties(order), reason=reason, by=by, was_paid=order.paid_fen > 0)


def shipped(order: SalesOrder, destination: Destination, *, carrier: str, tracking_no: str) -> oe.OrderShipped:
    """A shipment to the QC warehouse or to the buyer. Only a QC order ever has a warehouse (set when its case
    opens), so a seller's direct shipment to the buyer names none. A parcel to the buyer starts auto-confirm."""
    return oe.OrderShipped(
        **parties(order),
        destination=destination,
        carrier=carrier,
        tracking_no=tracking_no,
        warehouse_id=order.warehouse_id,
        auto_confirm_at=order.auto_confirm_at if destination is Destination.BUYER else None,
    )


def shipment_corrected(
    order: SalesOrder, destination: Destination, *, previous_carrier: str, previous_tracking_no: str
) -> oe.OrderShipmentCorrected:
    return oe.OrderShipmentCorrected(
        **parties(order),
        destination=destination,
        carrier=order.carrier or "",
        tracking_no=order.tracking_no or "",
        previous_carrier=previous_carrier,
        previous_tracking_no=previous_tracking_no,
        warehouse_id=order.warehouse_id,
    )


def receipt_extended(order: SalesOrder, auto_confirm_at: datetime) -> oe.OrderReceiptExtended:
    return oe.OrderReceiptExtended(**parties(order), auto_confirm_at=auto_confirm_at)


def delivered(
    order: SalesOrder, delivered_at: datetime, variants: list[oe.ProductVariant] | None = None
) -> oe.OrderDelivered:
    """`variants`: the variant groups of the order's lines (handlers.aftersales.variants_of), for an exchange."""
    return oe.OrderDelivered(**parties(order), delivered_at=delivered_at, variants=variants or [])


def completed(order: SalesOrder, split: ReleaseSplit, *, auto: bool) -> oe.OrderCompleted:
    return oe.OrderCompleted(
        **parties(order),
        host_id=order.host_id,
        auto=auto,
        seller_fen=split.seller_fen,
        host_fen=split.host_fen,
        platform_fen=split.platform_fen,
    )


def shipping_late(order: SalesOrder, promised_by: datetime) -> oe.OrderShippingLate:
    return oe.OrderShippingLate(**parties(order), promised_by=promised_by, paid_fen=order.paid_fen)


def refunded(
    order: SalesOrder,
    request: ae.RefundRequested,
    *,
    source: str,
    host_clawback_fen: int = 0,
    platform_clawback_fen: int = 0,
) -> oe.OrderRefunded:
    return oe.OrderRefunded(
        **parties(order),
        case_id=request.case_id,
        refund_id=request.refund_id,
        amount_fen=request.amount_fen,
        refunded_total_fen=order.refunded_fen,
        source=source,
        host_clawback_fen=host_clawback_fen,
        platform_clawback_fen=platform_clawback_fen,
    )


def refund_rejected(
    order: SalesOrder, request: ae.RefundRequested, *, refundable_fen: int, reason: str
) -> oe.OrderRefundRejected:
    return oe.OrderRefundRejected(
        **parties(order),
        case_id=request.case_id,
        refund_id=request.refund_id,
        amount_fen=request.amount_fen,
        refundable_fen=refundable_fen,
        reason=reason,
    )


def compensation_paid(order: SalesOrder, grant: ae.CompensationGranted) -> oe.OrderCompensationPaid:
    return oe.OrderCompensationPaid(
        **parties(order),
        compensation_id=grant.compensation_id,
        kind=grant.kind,
        amount_fen=grant.amount_fen,
        payer=grant.payer,
    )
