"""Enumerations that events carry; they are part of the contract, not business rules."""

from enum import StrEnum

__all__ = [
    "TrustRight",
    "Destination",
    "QcFailureReason",
    "DispatchTarget",
    "AfterSaleType",
    "AfterSaleReason",
    "AfterSaleStatus",
    "CompensationKind",
    "CompensationPayer",
]


class TrustRight(StrEnum):
    SEVEN_DAY_RETURN = "SEVEN_DAY_RETURN"
    RETURN_SHIPPING_SUBSIDY = "RETURN_SHIPPING_SUBSIDY"
    FAKE_ONE_PAY_TEN = "FAKE_ONE_PAY_TEN"
    FAST_REFUND = "FAST_REFUND"
    REFUND_WITHOUT_RETURN = "REFUND_WITHOUT_RETURN"
    FAST_SHIPPING = "FAST_SHIPPING"


class Destination(StrEnum):
    BUYER = "BUYER"
    QC_WAREHOUSE = "QC_WAREHOUSE"


class DispatchTarget(StrEnum):
    BUYER = "BUYER"
    SELLER = "SELLER"


class QcFailureReason(StrEnum):
    COUNTERFEIT = "COUNTERFEIT"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    DAMAGED = "DAMAGED"


class AfterSaleType(StrEnum):
    REFUND_ONLY = "REFUND_ONLY"
    RETURN_AND_REFUND = "RETURN_AND_REFUND"
    # 换货: the goods come back and the seller ships a replacement; no money moves.
    EXCHANGE = "EXCHANGE"
    # 补寄: a missing or damaged part is sent again, nothing comes back; no money moves.
    RESHIP = "RESHIP"


class AfterSaleReason(StrEnum):
    NO_REASON_7D = "NO_REASON_7D"
    QUALITY_ISSUE = "QUALITY_ISSUE"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    COUNTERFEIT = "COUNTERFEIT"
    NOT_RECEIVED = "NOT_RECEIVED"
    OTHER = "OTHER"
    # A part of the parcel is missing (a reship or a partial refund).
    MISSING_PARTS = "MISSING_PARTS"
    # Opened by the platform itself, not by a buyer.
    QC_FAILED = "QC_FAILED"
    QC_EXPIRED = "QC_EXPIRED"
    CANCELLED_BEFORE_SHIPMENT = "CANCELLED_BEFORE_SHIPMENT"


class AfterSaleStatus(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ARBITRATION = "ARBITRATION"
    AWAITING_RETURN = "AWAITING_RETURN"
    RETURN_SHIPPED = "RETURN_SHIPPED"
    RETURN_RECEIVED = "RETURN_RECEIVED"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    # Negotiation (协商): the seller's counter-offer waits for the buyer; the seller asked for more evidence.
    OFFERED = "OFFERED"
    AWAITING_EVIDENCE = "AWAITING_EVIDENCE"
    # Exchange and reship: the seller ships a replacement, which is on its way, then delivered (the case ends).
    AWAITING_REPLACEMENT = "AWAITING_REPLACEMENT"
    # A QC product's replacement goes to the quality-check warehouse first (先验后发): inspected there, then shipped
    # on to the buyer (REPLACEMENT_SHIPPED), or failed (back to AWAITING_REPLACEMENT: the seller ships another).
    REPLACEMENT_INSPECTING = "REPLACEMENT_INSPECTING"
    REPLACEMENT_SHIPPED = "REPLACEMENT_SHIPPED"
    COMPLETED = "COMPLETED"


class CompensationKind(StrEnum):
    COUNTERFEIT = "COUNTERFEIT"
    RETURN_SHIPPING = "RETURN_SHIPPING"
    LATE_SHIPMENT = "LATE_SHIPMENT"


class CompensationPayer(StrEnum):
    SHOP_DEPOSIT = "SHOP_DEPOSIT"
    PLATFORM = "PLATFORM"
    # The platform's quality-check guarantee: a certified item found counterfeit is the warehouse's liability.
    PLATFORM_GUARANTEE = "PLATFORM_GUARANTEE"
