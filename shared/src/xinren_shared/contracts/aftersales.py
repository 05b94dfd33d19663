"""Events of `xinren.aftersales.v1`, published by the refund service; key = order_id."""

from collections.abc import Callable
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from ..events import Event, event
from .vocabulary import (
    AfterSaleReason,
    AfterSaleStatus,
    AfterSaleType,
    CompensationKind,
    CompensationPayer,
    QcFailureReason,
)

TOPIC = "xinren.aftersales.v1"

_E = TypeVar("_E", bound=type[Event])


class AfterSaleItem(BaseModel):
    """An order line a case concerns: the quantity and the part of the case's amount on it."""

    sku_id: str
    quantity: int = Field(ge=1)
    amount_fen: int = 0
    title: str | None = None
    # An exchange for another variant of the line's product (same shop): the SKU the seller ships instead (None:
    # the same SKU); a cheaper variant's price difference is this line's amount_fen, refunded.
    replacement_sku_id: str | None = None


class AfterSaleEvent(Event):
    order_id: str
    case_id: str
    type: AfterSaleType
    reason: AfterSaleReason
    amount_fen: int
    status: AfterSaleStatus
    buyer_id: str | None = None
    shop_id: str | None = None
    # Set when the order's item passed quality check: a counterfeit claim then goes to the platform.
    certificate_no: str | None = None
    # The deadline of whoever must act next on the case (None once nobody must).
    due_at: datetime | None = None
    # The order lines the case concerns (empty on cases from before per-line cases: the whole order).
    items: list[AfterSaleItem] = []


def _case_event(name: str) -> Callable[[_E], _E]:
    return event(f"xinren.aftersale.{name}", TOPIC)


@_case_event("requested")
class AfterSaleRequested(AfterSaleEvent):
    pass


@_case_event("approved")
class AfterSaleApproved(AfterSaleEvent):
    pass


@_case_event("rejected")
class AfterSaleRejected(AfterSaleEvent):
    pass


@_case_event("escalated")
class AfterSaleEscalated(AfterSaleEvent):
    pass


@_case_event("return_shipped")
class AfterSaleReturnShipped(AfterSaleEvent):
    pass


@_case_event("return_received")
class AfterSaleReturnReceived(AfterSaleEvent):
    pass


@_case_event("refunded")
class AfterSaleRefunded(AfterSaleEvent):
    pass


@_case_event("closed")
class AfterSaleClosed(AfterSaleEvent):
    pass


@_case_event("offer_made")
class AfterSaleOfferMade(AfterSaleEvent):
    """The seller's counter-offer (协商): a lower amount and/or another handling way; the buyer accepts or declines
    by `due_at`."""

    offer_amount_fen: int
    offer_type: AfterSaleType
    offer_reason: str | None = None


@_case_event("offer_accepted")
class AfterSaleOfferAccepted(AfterSaleEvent):
    """The buyer accepted the counter-offer: the case goes on with its terms (amount_fen, type)."""


@_case_event("offer_declined")
class AfterSaleOfferDeclined(AfterSaleEvent):
    """The buyer declined the counter-offer: the case is rejected and the buyer may escalate by `due_at`."""


@_case_event("evidence_requested")
class AfterSaleEvidenceRequested(AfterSaleEvent):
    """The seller asks the buyer for more evidence by `due_at`."""

    request_reason: str | None = None


@_case_event("message_posted")
class AfterSaleMessagePosted(AfterSaleEvent):
    """A message on the case from one party to the other (text and evidence references)."""

    message_id: str
    author: str  # BUYER, SELLER or PLATFORM
    text: str
    evidence_ids: list[str] = []


@_case_event("replacement_shipped")
class AfterSaleReplacementShipped(AfterSaleEvent):
    """The seller shipped the replacement of an exchange or a reship; `qc_required`: the item is a QC product,
    so the parcel goes through the quality-check warehouse."""

    carrier: str
    tracking_no: str
    qc_required: bool = False
    # Set when the quality-check warehouse shipped this parcel on to the buyer after the replacement passed its
    # inspection (`replacement_certificate_no`). A QC product's replacement is first shipped by the seller to the
    # warehouse: that event has status REPLACEMENT_INSPECTING and no warehouse here.
    from_warehouse_id: str | None = None
    replacement_certificate_no: str | None = None


@_case_event("replacement_inspected")
class AfterSaleReplacementInspected(AfterSaleEvent):
    """The quality-check warehouse judged a QC product's replacement (final verdict): PASSED (certificate
    `replacement_certificate_no`; the case stays REPLACEMENT_INSPECTING until the warehouse ships it on, announced by
    replacement_shipped) or FAILED (the item goes back to the seller and the case is AWAITING_REPLACEMENT again:
    the seller ships another by `due_at`)."""

    outcome: Literal["PASSED", "FAILED"]
    inspection_case_id: str  # the quality-check case of the replacement
    warehouse_id: str | None = None
    replacement_certificate_no: str | None = None  # PASSED
    failure_reason: QcFailureReason | None = None  # FAILED
    findings: str | None = None


@_case_event("replacement_delivered")
class AfterSaleReplacementDelivered(AfterSaleEvent):
    """The replacement arrived (the carrier's delivery report or the buyer's confirmation): the case is COMPLETED."""

    confirmed_by: str  # CARRIER, BUYER or SYSTEM (nobody reported in time)


@event("xinren.aftersale.counterfeit_upheld", TOPIC)
class AfterSaleCounterfeitUpheld(Event):
    """The platform upheld a counterfeit claim on a certified item: the quality-check service revokes the
    certificate and records the error against the warehouse and its inspector."""

    order_id: str
    case_id: str
    certificate_no: str
    buyer_id: str | None = None
    shop_id: str | None = None


@event("xinren.refund.requested", TOPIC)
class RefundRequested(Event):
    """Asks the order service to move money back to the buyer; `refund_id` makes the request idempotent."""

    order_id: str
    case_id: str
    amount_fen: int
    buyer_id: str
    shop_id: str
    refund_id: str | None = None
    # Set by a consistency repair: the request was answered before but the answer never arrived, so the order
    # service answers it again (nothing moves twice). Ordinary resends leave it unset and get no second answer.
    reask: bool | None = None


@event("xinren.compensation.granted", TOPIC)
class CompensationGranted(Event):
    """Asks the order service to pay compensation beyond the price; `compensation_id` makes it idempotent."""

    order_id: str
    compensation_id: str
    kind: CompensationKind
    amount_fen: int
    payer: CompensationPayer
    buyer_id: str | None = None
    shop_id: str | None = None
    case_id: str | None = None
    reask: bool | None = None  # as RefundRequested.reask
