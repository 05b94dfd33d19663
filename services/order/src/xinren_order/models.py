"""Tables of the order service's own database: shops, products, orders and their timeline, the escrow ledger,
and the records that make refund and compensation requests idempotent."""

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from xinren_shared.tables import define_infra_tables


class OrderTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def _created_at() -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


def _json(default: Any, *, nullable: bool = False) -> Any:
    return Field(default_factory=lambda: copy.deepcopy(default), sa_column=Column(JSONB, nullable=nullable))


def _fen(default: int = 0) -> Any:
    return Field(default=default, sa_type=BigInteger, nullable=False)


class Shop(OrderTable, table=True):
    __tablename__ = "shop"

    shop_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    trust_rights: list[str] = _json([])
    status: str = Field(default="ACTIVE", max_length=20)
    strikes: int = 0
    # What the shop owes the platform guarantee, which covered refunds/compensations its money did not.
    guarantee_debt_fen: int = _fen()
    # Where returned and QC-failed goods go back to (the shape of a shipping address); None until the shop sets it.
    return_address: dict[str, Any] | None = _json(None, nullable=True)
    # A returned item received back goes into stock (True) or is written off (False): the seller's setting.
    restock_returns: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default="true"))
    suspended_at: datetime | None = _ts()
    created_at: datetime | None = _created_at()


class Product(OrderTable, table=True):
    """A product for sale (one SKU); its stock is in `ProductStock`."""

    __tablename__ = "product"

    sku_id: str = Field(primary_key=True, max_length=64)
    shop_id: str = Field(sa_column=Column(String(64), ForeignKey("shop.shop_id"), nullable=False, index=True))
    title: str = Field(max_length=200)
    category: str = Field(max_length=64)
    price_fen: int = _fen()
    qc_required: bool = False
    created_at: datetime | None = _created_at()
    # The variant group: products of a shop sharing a product_id are variants of one product (sizes of a bangle);
    # set at creation (default: the sku_id itself; None on rows from before variants: the sku is its own product).
    product_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))


class ProductStock(OrderTable, table=True):
    """A product's stock, spread over a few buckets (`stock.BUCKETS`): orders of one product take theirs from
    different rows, so a flash sale's orders do not each wait for the last one's commit (migration 0014). The
    product's stock is the sum of its buckets."""

    __tablename__ = "product_stock"
    __table_args__ = (
        CheckConstraint("available >= 0", name="ck_product_stock_available_non_negative"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    sku_id: str = Field(
        sa_column=Column(String(64), ForeignKey("product.sku_id", ondelete="CASCADE"), primary_key=True)
    )
    bucket: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    available: int = Field(sa_column=Column(Integer, nullable=False))


class TrustBand(OrderTable, table=True):
    """A shop's or product's public trust band and score, from the trust service's trust.score_changed (the newest
    event by its time wins); hosts' bands are not kept here."""

    __tablename__ = "trust_band"

    subject_kind: str = Field(primary_key=True, max_length=16)  # SHOP or PRODUCT
    subject_id: str = Field(primary_key=True, max_length=200)
    band: str = Field(max_length=32)
    score: float = Field(sa_column=Column(Float, nullable=False))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SalesOrder(OrderTable, table=True):
    """An order ("order" is an SQL keyword, hence the table name)."""

    __tablename__ = "sales_order"
    __table_args__ = (
        Index("ix_sales_order_created", "created_at", "order_id"),
        Index("ix_sales_order_buyer_created", "buyer_id", "created_at", "order_id"),
        Index("ix_sales_order_shop_created", "shop_id", "created_at", "order_id"),
        Index("ix_sales_order_host_created", "host_id", "created_at", "order_id"),
        CheckConstraint("refunded_fen <= paid_fen", name="ck_sales_order_refunds_within_payment"),
    )

    order_id: str = Field(primary_key=True, max_length=64)
    buyer_id: str = Field(max_length=200)
    shop_id: str = Field(max_length=64)
    host_id: str | None = Field(default=None, max_length=200)
    live_room_id: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=32, index=True)
    items: list[dict[str, Any]] = _json([])
    total_fen: int = _fen()
    paid_fen: int = _fen()
    refunded_fen: int = _fen()
    qc_required: bool = False
    category: str = Field(max_length=64)
    trust_rights: list[str] = _json([])
    shipping_address: dict[str, Any] = _json({})
    host_commission_bps: int = 0
    warehouse_hint: str | None = Field(default=None, max_length=200)
    warehouse_id: str | None = Field(default=None, max_length=200)
    warehouse_address: str | None = Field(default=None, sa_type=Text)
    qc_case_id: str | None = Field(default=None, max_length=200)
    certificate_no: str | None = Field(default=None, max_length=200)
    payment_method: str | None = Field(default=None, max_length=40)
    payment_ref: str | None = Field(default=None, max_length=100)
    shipment_destination: str | None = Field(default=None, max_length=20)
    carrier: str | None = Field(default=None, max_length=200)
    tracking_no: str | None = Field(default=None, max_length=200)
    stock_released: bool = False
    # Per sku, the quantity already given back before shipment by partial refunds (release_stock gives the rest).
    stock_released_items: dict[str, int] = _json({})
    # Auto-confirm paused by an open after-sales case: the time it still had to run.
    auto_confirm_remaining_seconds: float | None = None
    # When auto-confirm fires while it runs (None when it does not run: not shipped yet, paused, over).
    auto_confirm_at: datetime | None = _ts()
    # The buyer's one extension of the time to confirm receipt.
    receipt_extended_at: datetime | None = _ts()
    # Deadlines shown to the parties: pay by (the unpaid timeout), ship by (the window, or FAST_SHIPPING's promise).
    pay_by: datetime | None = _ts()
    ship_by: datetime | None = _ts()
    # The shop's return address when the order was paid (order.paid carries it).
    return_address: dict[str, Any] | None = _json(None, nullable=True)
    # The QC case as the xinren.qc.v1 events told it (the QC service's case status names).
    qc_status: str | None = Field(default=None, max_length=32)
    qc_inbound_deadline: datetime | None = _ts()
    paid_at: datetime | None = _ts()
    shipped_at: datetime | None = _ts()
    delivered_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()
    shipping_late_at: datetime | None = _ts()
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)


class OrderTimelineEntry(OrderTable, table=True):
    __tablename__ = "order_timeline_entry"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    order_id: str = Field(max_length=64, index=True)
    at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    actor: str = Field(sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)


class LedgerTransaction(OrderTable, table=True):
    """One balanced money movement, written once: `idempotency_key` is unique."""

    __tablename__ = "ledger_transaction"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    idempotency_key: str = Field(max_length=300, unique=True)
    kind: str = Field(max_length=32)
    order_id: str | None = Field(default=None, max_length=64, index=True)
    shop_id: str | None = Field(default=None, max_length=64, index=True)
    memo: str | None = Field(default=None, sa_type=Text)
    created_at: datetime | None = _created_at()


class LedgerEntry(OrderTable, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="ck_ledger_entry_non_zero"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    transaction_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_transaction.id"), nullable=False, index=True)
    )
    account: str = Field(max_length=100, index=True)
    amount_fen: int = _fen()


class RefundRecord(OrderTable, table=True):
    """The answer given to one refund request (by refund_id, else case_id): paid once, or rejected."""

    __tablename__ = "refund_record"

    refund_key: str = Field(primary_key=True, max_length=200)
    order_id: str = Field(max_length=64, index=True)
    case_id: str = Field(max_length=200)
    amount_fen: int = _fen()
    outcome: str = Field(max_length=20)  # REFUNDED | REJECTED
    source: str | None = Field(default=None, max_length=100)
    refundable_fen: int = _fen()
    ledger_transaction_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime | None = _created_at()


class CompensationRecord(OrderTable, table=True):
    __tablename__ = "compensation_record"

    compensation_id: str = Field(primary_key=True, max_length=200)
    order_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)
    payer: str = Field(max_length=32)
    amount_fen: int = _fen()
    source: str | None = Field(default=None, max_length=100)
    ledger_transaction_id: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime | None = _created_at()


class AfterSaleCase(OrderTable, table=True):
    """What the order service knows of after-sales cases: whether one is open pauses auto-confirm."""

    __tablename__ = "aftersale_case"

    case_id: str = Field(primary_key=True, max_length=200)
    order_id: str = Field(max_length=64, index=True)
    status: str = Field(max_length=32)
    open: bool = True
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    # What the order screen shows of the case (from its events): handling way and the next deadline.
    type: str | None = Field(default=None, max_length=32)
    due_at: datetime | None = _ts()
    created_at: datetime | None = _ts()
    # Stock effects already applied for the case: the replacement's reservation (per sku), the return's restock.
    replacement_reserved: dict[str, int] = _json({})
    replacement_shipped: bool = False
    restocked: bool = False


class AfterSaleTimelineEntry(OrderTable, table=True):
    """The after-sales steps of an order, from the refund service's events, for the order's merged timeline."""

    __tablename__ = "aftersale_timeline_entry"
    __table_args__ = (Index("ix_aftersale_timeline_entry_order", "order_id", "at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    order_id: str = Field(max_length=64)
    case_id: str = Field(max_length=200)
    at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    event: str = Field(max_length=64)  # the event type after "xinren.aftersale."
    status: str = Field(max_length=32)
    detail: str | None = Field(default=None, sa_type=Text)


class Host(OrderTable, table=True):
    """A registered live-stream host (主播): only a registered host can be named on an order."""

    __tablename__ = "host"

    host_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)


class Cooperation(OrderTable, table=True):
    """A host bound to a shop by its seller, at a commission rate, for the whole shop (sku_ids None) or some skus."""

    __tablename__ = "cooperation"
    __table_args__ = (
        Index("ix_cooperation_shop_created", "shop_id", "created_at", "cooperation_id"),
        Index("ix_cooperation_host_created", "host_id", "created_at", "cooperation_id"),
        Index("ix_cooperation_shop_host", "shop_id", "host_id"),
        CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="ck_cooperation_commission_bps"),
    )

    cooperation_id: str = Field(primary_key=True, max_length=64)
    shop_id: str = Field(sa_column=Column(String(64), ForeignKey("shop.shop_id"), nullable=False))
    host_id: str = Field(sa_column=Column(String(64), ForeignKey("host.host_id"), nullable=False))
    commission_bps: int
    sku_ids: list[str] | None = _json(None, nullable=True)
    status: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    ended_at: datetime | None = _ts()


class Payout(OrderTable, table=True):
    """One payout of a seller's (SHOP) or host's (HOST) available balance, one per party and period."""

    __tablename__ = "payout"
    __table_args__ = (
        UniqueConstraint("party_kind", "party_id", "period", name="uq_payout_party_period"),
        Index("ix_payout_party_created", "party_kind", "party_id", "created_at", "payout_id"),
        CheckConstraint("amount_fen > 0", name="ck_payout_amount_positive"),
    )

    payout_id: str = Field(primary_key=True, max_length=64)
    party_kind: str = Field(max_length=8)
    party_id: str = Field(max_length=64)
    period: str = Field(max_length=40)
    amount_fen: int = _fen()
    status: str = Field(max_length=16, index=True)  # SENDING | PAID | FAILED
    attempts: int = 0
    provider_ref: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=Text)
    statement_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    paid_at: datetime | None = _ts()


class Statement(OrderTable, table=True):
    """What one payout pays: its lines (per order line, and adjustments) as they were when it was cut; never changed."""

    __tablename__ = "settlement_statement"
    __table_args__ = (
        Index("ix_settlement_statement_party_created", "party_kind", "party_id", "created_at", "statement_id"),
    )

    statement_id: str = Field(primary_key=True, max_length=64)
    party_kind: str = Field(max_length=8)
    party_id: str = Field(max_length=64)
    period: str = Field(max_length=40)
    payout_id: str = Field(max_length=64, unique=True)
    payout_fen: int = _fen()
    lines: list[dict[str, Any]] = _json([])
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)


class StatementEntry(OrderTable, table=True):
    """A ledger entry on a seller's or host's available account, settled by the statement that lists it."""

    __tablename__ = "statement_entry"

    ledger_entry_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("ledger_entry.id"), primary_key=True, autoincrement=False)
    )
    statement_id: str = Field(max_length=64, index=True)


metadata = OrderTable.metadata
infra = define_infra_tables(metadata)
