"""Tables of the refund service's own database."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from xinren_shared.tables import define_infra_tables


class RefundTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


metadata = RefundTable.metadata
infra = define_infra_tables(metadata)

ID = 200  # length of ids we store, ours and other services'


def _at(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))


def _str(length: int = ID, nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(String(length), nullable=nullable, **kw))


def _fen(default: int = 0) -> Any:
    return Field(default=default, sa_column=Column(BigInteger, nullable=False, server_default=str(default)))


# The view's statuses, in the order an order moves through them (a stale event never moves the view back).
VIEW_RANK = {"CREATED": 0, "PAID": 1, "SHIPPED": 2, "DELIVERED": 3, "COMPLETED": 4, "CANCELLED": 5, "REFUNDED": 6}


class OrderView(RefundTable, table=True):
    """This service's own view of an order, built from `xinren.orders.v1`. Locked (FOR UPDATE) whenever a case
    reserves or releases an amount, so concurrent requests cannot together exceed what was paid."""

    __tablename__ = "order_view"

    order_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    buyer_id: str | None = _str()
    shop_id: str | None = _str()
    status: str = Field(sa_column=Column(String(32), nullable=False))
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    # The shop's rights when the order was placed: they govern its after-sales.
    trust_rights: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    qc_required: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    total_fen: int = _fen()
    paid_fen: int = _fen()
    # From order.refunded (refunded_total_fen): the order service's authoritative figure.
    refunded_total_fen: int = _fen()
    paid_at: datetime | None = _at()
    shipped_at: datetime | None = _at()
    delivered_at: datetime | None = _at()
    completed_at: datetime | None = _at()
    cancelled_at: datetime | None = _at()
    # The shop's return address when the order was paid (order.paid); None: the shop had set none.
    return_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    # The quality-check certificate of the item (qc.passed): the platform vouched for it.
    certificate_no: str | None = _str()
    # The quality-check warehouse that inspects the item (qc.case_opened): a certified item's return goes back
    # there, where the seal and measurements are checked before the refund is released.
    qc_warehouse_address: str | None = Field(default=None, sa_column=Column(Text))
    # A QC failure/expiry that arrived before this service saw the payment (another topic, so no order between
    # them): applied as soon as order.paid arrives, so no refund is lost.
    pending_qc_outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime | None = _at(False, server_default=func.now())
    updated_at: datetime | None = _at(False, server_default=func.now())


class AfterSaleCase(RefundTable, table=True):
    __tablename__ = "after_sale_case"
    __table_args__ = (
        # At most one platform full-refund case per order (QC failure/expiry, paid cancellation), however often
        # the triggering event arrives.
        UniqueConstraint("system_key", name="uq_after_sale_case_system_key"),
        UniqueConstraint("refund_id", name="uq_after_sale_case_refund_id"),
        Index("ix_after_sale_case_order", "order_id", "status"),
        Index("ix_after_sale_case_buyer", "buyer_id", "created_at", "case_id"),
        Index("ix_after_sale_case_shop", "shop_id", "created_at", "case_id"),
        Index("ix_after_sale_case_created", "created_at", "case_id"),
    )

    case_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    buyer_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    type: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    refunded_fen: int | None = Field(default=None, sa_column=Column(BigInteger))
    description: str | None = Field(default=None, sa_column=Column(Text))
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    origin: str = Field(sa_column=Column(String(16), nullable=False))  # BUYER or SYSTEM
    system_key: str | None = _str()
    return_required: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    rules_applied: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    refund_id: str | None = _str()
    refund_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    return_carrier: str | None = _str(100)
    return_tracking_no: str | None = _str(100)
    # Live deadlines only (domain.DEADLINES): set on entering the state that has one, cleared on leaving it.
    review_due_at: datetime | None = _at()  # the seller reviews by then
    return_due_at: datetime | None = _at()  # the buyer sends the goods back by then
    return_receipt_due_at: datetime | None = _at()  # the seller confirms the return's receipt by then
    escalation_due_at: datetime | None = _at()  # the rejected buyer escalates by then
    offer_due_at: datetime | None = _at()  # the buyer answers the seller's counter-offer by then
    evidence_due_at: datetime | None = _at()  # the buyer gives the evidence asked for by then
    replacement_ship_due_at: datetime | None = _at()  # the seller ships the replacement by then
    replacement_receipt_due_at: datetime | None = _at()  # the replacement counts as received then
    # The order lines the case concerns: [{sku_id, title, quantity, amount_fen}] (empty: an older whole-order case).
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    # The seller's counter-offer: {amount_fen, type, reason, status (PENDING/ACCEPTED/DECLINED/LAPSED), made_at,
    # answered_at}; one per case.
    offer: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    evidence_requested_at: datetime | None = _at()  # once per case
    replacement_carrier: str | None = _str(100)
    replacement_tracking_no: str | None = _str(100)
    replacement_shipped_at: datetime | None = _at()
    # A QC product's replacement at the quality-check warehouse: its inspection case there (the latest parcel's),
    # and the certificate it was given when it passed.
    replacement_qc_case_id: str | None = _str()
    replacement_certificate_no: str | None = _str()
    completed_at: datetime | None = _at()
    # A counterfeit claim on an item certified by quality check: the platform's case, this certificate at stake.
    certificate_no: str | None = _str()
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))  # last seller/admin/system reason
    close_code: str | None = _str(32)  # domain.CloseCode
    close_reason: str | None = Field(default=None, sa_column=Column(Text))
    approved_at: datetime | None = _at()
    refund_requested_at: datetime | None = _at()
    refunded_at: datetime | None = _at()
    closed_at: datetime | None = _at()
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CaseTimelineEntry(RefundTable, table=True):
    """A case's timeline: one row per state change (and per compensation granted on it)."""

    __tablename__ = "case_timeline_entry"
    __table_args__ = (Index("ix_case_timeline_entry_case", "case_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    case_id: str = Field(sa_column=Column(String(ID), nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    actor: str = Field(sa_column=Column(String(ID), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))


class Compensation(RefundTable, table=True):
    __tablename__ = "compensation"
    __table_args__ = (
        # A counterfeit or late shipment is compensated once per order, a return subsidy once per case.
        UniqueConstraint("dedupe_key", name="uq_compensation_dedupe_key"),
        Index("ix_compensation_order", "order_id"),
        Index("ix_compensation_case", "case_id"),
        Index("ix_compensation_buyer", "buyer_id", "created_at", "compensation_id"),
        Index("ix_compensation_shop", "shop_id", "created_at", "compensation_id"),
        Index("ix_compensation_created", "created_at", "compensation_id"),
    )

    compensation_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    case_id: str | None = _str()
    buyer_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    payer: str = Field(sa_column=Column(String(32), nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(500), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    granted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    paid_at: datetime | None = _at()
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CaseMessage(RefundTable, table=True):
    """Negotiation (协商): a message on a case from the buyer, the seller or the platform."""

    __tablename__ = "case_message"
    __table_args__ = (Index("ix_case_message_case", "case_id", "at", "message_id"),)

    message_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    case_id: str = Field(sa_column=Column(String(ID), nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    author: str = Field(sa_column=Column(String(16), nullable=False))  # BUYER, SELLER or PLATFORM
    actor: str = Field(sa_column=Column(String(ID), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))


class ShopBand(RefundTable, table=True):
    """A shop's trust band as the trust service last published it (trust.score_changed), with the rights the band
    allows. No row: no band known yet, and the shop's own rights alone govern its after-sales."""

    __tablename__ = "shop_band"

    shop_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    band: str = Field(sa_column=Column(String(32), nullable=False))
    rights: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))  # the event's time
