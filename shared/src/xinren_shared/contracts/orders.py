"""Events of `xinren.orders.v1`, published by the order service; key = order_id."""

from datetime import datetime

from pydantic import BaseModel, Field

from ..events import Event, event
from .vocabulary import CompensationKind, CompensationPayer, Destination, TrustRight

TOPIC = "xinren.orders.v1"


class OrderItem(BaseModel):
    sku_id: str
    title: str
    category: str
    unit_price_fen: int = Field(ge=0)
    quantity: int = Field(ge=1)


class Address(BaseModel):
    """A postal address as the buyer or the shop gave it."""

    name: str
    phone: str
    province: str
    city: str
    district: str
    line1: str


class OrderEvent(Event):
    order_id: str
    # Optional on every order event so that consumers (notify, partners) can address the parties without state.
    buyer_id: str | None = None
    shop_id: str | None = None


@event("xinren.order.created", TOPIC)
class OrderCreated(OrderEvent):
    buyer_id: str
    shop_id: str
    host_id: str | None = None
    live_room_id: str | None = None
    items: list[OrderItem]
    total_fen: int
    qc_required: bool
    trust_rights: list[TrustRight] = []
    # The host's commission on this order, from the host's cooperation with the shop (None: no host).
    host_commission_bps: int | None = None
    pay_by: datetime | None = None


@event("xinren.order.paid", TOPIC)
class OrderPaid(OrderEvent):
    buyer_id: str
    shop_id: str
    host_id: str | None = None
    items: list[OrderItem]
    paid_fen: int
    qc_required: bool
    category: str
    trust_rights: list[TrustRight] = []
    warehouse_id: str | None = None
    paid_at: datetime | None = None
    # Where the goods go (the quality-check warehouse dispatches a passed item here) and where they come back
    # to (a failed item, a return); the shop's return address is None until the shop has set one.
    shipping_address: Address | None = None
    return_address: Address | None = None
    ship_by: datetime | None = None
    # Set by a consistency repair asking the quality-check service again: a case it already has is announced again.
    reask: bool | None = None


@event("xinren.order.cancelled", TOPIC)
class OrderCancelled(OrderEvent):
    reason: str
    by: str
    was_paid: bool | None = None


@event("xinren.order.shipped", TOPIC)
class OrderShipped(OrderEvent):
    destination: Destination
    carrier: str
    tracking_no: str
    warehouse_id: str | None = None
    # When the order completes by itself if the buyer neither confirms nor opens a case (parcels to the buyer).
    auto_confirm_at: datetime | None = None


@event("xinren.order.shipment_corrected", TOPIC)
class OrderShipmentCorrected(OrderEvent):
    """The seller corrected the parcel's carrier or tracking number before delivery."""

    destination: Destination
    carrier: str
    tracking_no: str
    previous_carrier: str
    previous_tracking_no: str
    warehouse_id: str | None = None


@event("xinren.order.receipt_extended", TOPIC)
class OrderReceiptExtended(OrderEvent):
    """The buyer extended the time to confirm receipt (once per order)."""

    auto_confirm_at: datetime


class ProductVariant(BaseModel):
    """A product of the shop in the variant group (product_id) of an order line, the line's own SKU included."""

    sku_id: str
    product_id: str
    title: str
    unit_price_fen: int = Field(ge=0)


@event("xinren.order.delivered", TOPIC)
class OrderDelivered(OrderEvent):
    delivered_at: datetime
    # The variants of the order lines' products when the order was delivered (an exchange may name one of them);
    # empty when no line's product has another variant.
    variants: list[ProductVariant] = []


@event("xinren.order.completed", TOPIC)
class OrderCompleted(OrderEvent):
    auto: bool
    seller_fen: int
    host_fen: int
    platform_fen: int
    host_id: str | None = None


@event("xinren.order.shipping_late", TOPIC)
class OrderShippingLate(OrderEvent):
    promised_by: datetime
    paid_fen: int | None = None


@event("xinren.order.refunded", TOPIC)
class OrderRefunded(OrderEvent):
    case_id: str
    amount_fen: int
    refunded_total_fen: int
    source: str
    refund_id: str | None = None
    # A refund after the escrow was released takes the platform's and the host's shares back in proportion.
    host_clawback_fen: int = 0
    platform_clawback_fen: int = 0


@event("xinren.order.refund_rejected", TOPIC)
class OrderRefundRejected(OrderEvent):
    """The answer to a refund.requested that cannot be paid (more than remains refundable); nothing moved."""

    case_id: str
    amount_fen: int
    refundable_fen: int
    reason: str
    refund_id: str | None = None


@event("xinren.order.compensation_paid", TOPIC)
class OrderCompensationPaid(OrderEvent):
    compensation_id: str
    kind: CompensationKind
    amount_fen: int
    payer: CompensationPayer
