"""Request and response models of the refund service's REST API (the contract of API.md, never the tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from xinren_shared.contracts.vocabulary import (
    AfterSaleReason,
    AfterSaleStatus,
    AfterSaleType,
    CompensationKind,
    CompensationPayer,
    TrustRight,
)

from .domain import CloseCode, CompensationStatus, Party

# The reasons a buyer may give; QC_FAILED, QC_EXPIRED and CANCELLED_BEFORE_SHIPMENT are the platform's own.
BuyerReason = Literal[
    "NO_REASON_7D", "QUALITY_ISSUE", "NOT_AS_DESCRIBED", "COUNTERFEIT", "NOT_RECEIVED", "MISSING_PARTS", "OTHER"
]
EvidenceUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://\S+$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_FEN = 10**13


class CaseItemRequest(BaseModel):
    sku_id: Short
    quantity: int = Field(ge=1, le=10_000, strict=True)


class CaseItemPublic(BaseModel):
    sku_id: str
    title: str | None = None
    quantity: int
    amount_fen: int = 0
    replacement_sku_id: str | None = None  # an exchange for another variant: the SKU shipped instead


class CaseCreate(BaseModel):
    order_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    type: AfterSaleType
    reason: BuyerReason
    # strict: JSON true (1 fen) or "100" is no amount
    amount_fen: int | None = Field(
        default=None, ge=1, le=MAX_FEN, strict=True, description="default: all that is still refundable"
    )
    evidence: list[EvidenceUrl] = Field(default_factory=list, max_length=20)
    description: Text | None = None
    # The order lines and quantities the case concerns; default: the whole order. A line at most once.
    items: list[CaseItemRequest] | None = Field(default=None, min_length=1, max_length=100)
    # An EXCHANGE for another variant of the line's product (same shop): a cheaper one refunds the difference, a
    # dearer one is refused (domain/variants.py).
    replacement_sku_id: Short | None = None

    @model_validator(mode="after")
    def _lines_once(self) -> CaseCreate:
        if self.items is not None and len({i.sku_id for i in self.items}) != len(self.items):
            raise ValueError("each order line may be named once in items")
        return self


class ReasonBody(BaseModel):
    reason: Text | None = None


class RejectBody(BaseModel):
    reason: Text


class ReturnShipmentBody(BaseModel):
    carrier: Short
    tracking_no: Short


class ArbitrateBody(BaseModel):
    decision: Literal["REFUND", "REJECT"]
    amount_fen: int | None = Field(
        default=None, ge=1, le=MAX_FEN, strict=True, description="REFUND only; default: the case's"
    )
    reason: Text


EvidenceId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class MessageCreate(BaseModel):
    text: Text
    evidence_ids: list[EvidenceId] = Field(default_factory=list, max_length=20)


class MessagePublic(BaseModel):
    message_id: str
    case_id: str
    at: datetime
    author: Literal["BUYER", "SELLER", "PLATFORM"]
    text: str
    evidence_ids: list[str]


class OfferCreate(BaseModel):
    """The seller's counter-offer: a lower amount, another handling way, or both."""

    amount_fen: int | None = Field(default=None, ge=1, le=MAX_FEN, strict=True)
    type: AfterSaleType | None = None
    reason: Text

    @model_validator(mode="after")
    def _something_offered(self) -> OfferCreate:
        if self.amount_fen is None and self.type is None:
            raise ValueError("a counter-offer names an amount_fen, a type, or both")
        return self


class OfferPublic(BaseModel):
    amount_fen: int
    type: AfterSaleType
    reason: str | None = None
    status: Literal["PENDING", "ACCEPTED", "DECLINED", "LAPSED"]
    made_at: datetime
    answered_at: datetime | None = None


class EvidenceRequestCreate(BaseModel):
    reason: Text


class ReplacementShipmentBody(BaseModel):
    carrier: Short
    tracking_no: Short


class TimelineEntryPublic(BaseModel):
    at: datetime
    status: AfterSaleStatus
    actor: str
    reason: str | None = None


class CompensationPublic(BaseModel):
    compensation_id: str
    order_id: str
    case_id: str | None = None
    buyer_id: str
    shop_id: str
    kind: CompensationKind
    payer: CompensationPayer
    amount_fen: int
    status: CompensationStatus
    granted_at: datetime
    paid_at: datetime | None = None


class ReturnShipmentPublic(BaseModel):
    carrier: str
    tracking_no: str


class AddressPublic(BaseModel):
    name: str
    phone: str
    province: str
    city: str
    district: str
    line1: str


class CaseSummary(BaseModel):
    case_id: str
    order_id: str
    buyer_id: str
    shop_id: str
    type: AfterSaleType
    reason: AfterSaleReason
    status: AfterSaleStatus
    amount_fen: int
    refunded_fen: int | None = None
    origin: Literal["BUYER", "SYSTEM"]
    return_required: bool
    rules_applied: list[str]
    refund_id: str | None = None
    # Deadlines, each shown while it runs: the seller's review, the buyer's return shipment (missed: the case
    # closes, RETURN_NOT_SENT), the seller's confirmation of the return's receipt, the rejected buyer's escalation.
    review_due_at: datetime | None = None
    return_due_at: datetime | None = None
    return_receipt_due_at: datetime | None = None
    escalation_due_at: datetime | None = None
    offer_due_at: datetime | None = None
    evidence_due_at: datetime | None = None
    replacement_ship_due_at: datetime | None = None
    replacement_receipt_due_at: datetime | None = None
    # Who must act next, and the deadline they must act by (None: nobody must by a given time).
    next_actor: Party | None = None
    due_at: datetime | None = None
    # A counterfeit claim on an item certified by quality check: the platform decides it.
    certificate_no: str | None = None
    decision_reason: str | None = None
    close_code: CloseCode | None = None
    close_reason: str | None = None
    created_at: datetime
    updated_at: datetime


class CasePublic(CaseSummary):
    description: str | None = None
    evidence: list[str]
    # Where to send the goods, once the case is approved for a return (None before). A shop that set no return
    # address: None and `return_address_missing` true; the buyer may still ship (and ask the seller where).
    return_address: AddressPublic | None = None
    return_address_missing: bool = False
    # A certified item (it passed quality check) goes back through the quality-check warehouse, at this address, where
    # its seal and measurements are checked before the refund is released; `return_address` is then None.
    return_via_warehouse: str | None = None
    return_shipment: ReturnShipmentPublic | None = None
    # The order lines the case concerns (empty on older whole-order cases).
    items: list[CaseItemPublic] = []
    # The seller's counter-offer, when one was made.
    offer: OfferPublic | None = None
    evidence_requested_at: datetime | None = None
    # The replacement parcel of an exchange or reship.
    replacement_shipment: ReturnShipmentPublic | None = None
    replacement_shipped_at: datetime | None = None
    # A QC product's replacement goes to the quality-check warehouse first: its address while the seller is to ship
    # there (AWAITING_REPLACEMENT) or the parcel is on its way to it (REPLACEMENT_INSPECTING); the inspection case
    # there, and the certificate the replacement was given when it passed.
    replacement_via_warehouse: str | None = None
    replacement_inspection_id: str | None = None
    replacement_certificate_no: str | None = None
    completed_at: datetime | None = None
    compensations: list[CompensationPublic]
    timeline: list[TimelineEntryPublic]


class EligibilityPublic(BaseModel):
    """What the buyer can still ask for on an order, as this service sees it."""

    order_id: str
    status: str
    paid_fen: int
    refunded_fen: int
    reserved_fen: int
    refundable_fen: int
    trust_rights: list[TrustRight]
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    seven_day_return_ends_at: datetime | None = None
    # The item passed quality check: a counterfeit claim goes to the platform, which vouched for it.
    certificate_no: str | None = None
