"""Tables of the quality-check service's own database."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from xinren_shared.tables import define_infra_tables


class QcTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


metadata = QcTable.metadata
infra = define_infra_tables(metadata)

ID = 200  # length of ids we store, ours and other services'


def _at(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))


class Warehouse(QcTable, table=True):
    __tablename__ = "warehouse"

    warehouse_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    address: str = Field(sa_column=Column(String(500), nullable=False))
    # Normalised (lower case) categories this warehouse's inspectors are certified for.
    categories: list[str] = Field(sa_column=Column(ARRAY(String(100)), nullable=False))
    # Open cases the warehouse can hold; routing prefers warehouses below it (None: no limit).
    capacity: int | None = Field(default=None, sa_column=Column(Integer))
    created_at: datetime | None = _at(False, server_default=func.now())


class QcCase(QcTable, table=True):
    """An inspection case: the order's item (one per order, from order.paid), or the replacement of an exchange or
    reship of that order (`aftersale_case_id` set, one per replacement parcel, from aftersale.replacement_shipped).
    What order.paid told us is kept for events and certificates (a replacement's case copies the order's)."""

    __tablename__ = "qc_case"
    __table_args__ = (
        # One case for the order's own item, whatever the redeliveries; replacements' cases are apart.
        Index("uq_qc_case_order_id", "order_id", unique=True, postgresql_where=text("aftersale_case_id IS NULL")),
        # One case per replacement parcel: the seller ships another after a failure, a new inspection.
        UniqueConstraint("aftersale_case_id", "inbound_tracking_no", name="uq_qc_case_replacement_parcel"),
        UniqueConstraint("certificate_no", name="uq_qc_case_certificate_no"),
        # A physical tamper-evident tag seals one certified item.
        UniqueConstraint("seal_id", name="uq_qc_case_seal_id"),
        Index("ix_qc_case_warehouse_status", "warehouse_id", "status"),
        Index("ix_qc_case_status_category", "status", "category"),
        Index("ix_qc_case_created", "created_at", "case_id"),
        Index("ix_qc_case_shop", "shop_id"),
    )

    case_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    # The refund service's exchange or reship case whose replacement this inspects (None: the order's own item).
    aftersale_case_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    buyer_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    # The live room's host who sold the order (order.paid; None: no host), told with a final failure.
    host_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    category: str = Field(sa_column=Column(String(100), nullable=False))
    items: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    paid_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    warehouse_id: str | None = Field(
        default=None, sa_column=Column(String(ID), ForeignKey("warehouse.warehouse_id"), nullable=True)
    )
    inbound_deadline: datetime | None = _at()
    inbound_carrier: str | None = Field(default=None, sa_column=Column(String(100)))
    inbound_tracking_no: str | None = Field(default=None, sa_column=Column(String(100)))
    arrival_tracking_no: str | None = Field(default=None, sa_column=Column(String(100)))
    arrived_at: datetime | None = _at()
    arrived_by: str | None = Field(default=None, sa_column=Column(String(ID)))
    verdict_result: str | None = Field(default=None, sa_column=Column(String(16)))
    failure_reason: str | None = Field(default=None, sa_column=Column(String(32)))
    findings: str | None = Field(default=None, sa_column=Column(Text))
    photos: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    inspector_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    verdict_at: datetime | None = _at()
    certificate_no: str | None = Field(default=None, sa_column=Column(String(64)))
    # The checklist's measurements ({name: value}), the evidence ids of the verdict's photos, the seal's tag id.
    measurements: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    photo_ids: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    seal_id: str | None = Field(default=None, sa_column=Column(String(100)))
    # When the verdict became final: at once for a pass, after the appeal window or the review for a failure.
    verdict_final_at: datetime | None = _at()
    appeal_due_at: datetime | None = _at()  # the seller may appeal a failure until then
    assigned_inspector_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    dispatch_to: str | None = Field(default=None, sa_column=Column(String(16)))
    dispatch_carrier: str | None = Field(default=None, sa_column=Column(String(100)))
    dispatch_tracking_no: str | None = Field(default=None, sa_column=Column(String(100)))
    dispatched_at: datetime | None = _at()
    dispatched_by: str | None = Field(default=None, sa_column=Column(String(ID)))
    # From order.paid: where a passed item goes (the buyer's) and where a failed one goes back (the shop's; None
    # while the shop has none). The dispatch records the one it used.
    shipping_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    return_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    dispatch_address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    # VALID once issued; REVOKED when a counterfeit claim on the certified item is upheld after sale.
    certificate_status: str | None = Field(default=None, sa_column=Column(String(16)))
    certificate_revoked_at: datetime | None = _at()
    certificate_revocation_reason: str | None = Field(default=None, sa_column=Column(Text))
    certificate_revoked_for: str | None = Field(default=None, sa_column=Column(String(ID)))  # after-sales case id
    created_at: datetime | None = _at(False, server_default=func.now())
    updated_at: datetime | None = _at(False, server_default=func.now())


class QcCaseEvent(QcTable, table=True):
    """The case's timeline: one row per state change."""

    __tablename__ = "qc_case_event"
    __table_args__ = (Index("ix_qc_case_event_case", "case_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False))
    actor: str = Field(sa_column=Column(String(ID), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text))


class Strike(QcTable, table=True):
    """A strike against a shop; at most one per case (a case fails or expires once)."""

    __tablename__ = "strike"
    __table_args__ = (
        UniqueConstraint("case_id", name="uq_strike_case_id"),
        Index("ix_strike_shop", "shop_id", "struck_at"),
    )

    strike_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), nullable=False))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    struck_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class InspectionError(QcTable, table=True):
    """An inspection found wrong afterwards (a certified item ruled counterfeit): the warehouse's and its
    inspector's record, at most one per case. It is never a strike against the shop."""

    __tablename__ = "inspection_error"
    __table_args__ = (
        UniqueConstraint("case_id", name="uq_inspection_error_case_id"),
        Index("ix_inspection_error_warehouse", "warehouse_id", "recorded_at", "error_id"),
        Index("ix_inspection_error_inspector", "inspector_id"),
    )

    error_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    warehouse_id: str = Field(sa_column=Column(String(ID), ForeignKey("warehouse.warehouse_id"), nullable=False))
    inspector_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), nullable=False))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    certificate_no: str = Field(sa_column=Column(String(64), nullable=False))
    aftersale_case_id: str = Field(sa_column=Column(String(ID), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Evidence(QcTable, table=True):
    """An uploaded photo: the bytes are stored once by their SHA-256 (the store), a row per uploader."""

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("sha256", "uploaded_by", name="uq_evidence_sha256_uploader"),
        Index("ix_evidence_sha256", "sha256"),
    )

    evidence_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    content_type: str = Field(sa_column=Column(String(64), nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    uploaded_by: str = Field(sa_column=Column(String(ID), nullable=False))  # the principal's actor
    uploaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EvidenceLink(QcTable, table=True):
    """Where evidence is used: a verdict's photos, an appeal, a return check. The case's parties may read it; a
    certificate's photos (purpose VERDICT of a certified case) are public."""

    __tablename__ = "evidence_link"
    __table_args__ = (Index("ix_evidence_link_case", "case_id"),)

    evidence_id: str = Field(
        sa_column=Column(String(ID), ForeignKey("evidence.evidence_id"), primary_key=True, nullable=False)
    )
    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), primary_key=True, nullable=False))
    purpose: str = Field(sa_column=Column(String(16), primary_key=True, nullable=False))


class EvidenceAftersale(QcTable, table=True):
    """Evidence attached to an after-sales message (learnt from aftersale.message_posted): the case's buyer and shop
    may read it, as the uploader and the admin may."""

    __tablename__ = "evidence_aftersale"

    evidence_id: str = Field(
        sa_column=Column(String(ID), ForeignKey("evidence.evidence_id"), primary_key=True, nullable=False)
    )
    aftersale_case_id: str = Field(sa_column=Column(String(ID), primary_key=True, nullable=False))
    buyer_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    shop_id: str | None = Field(default=None, sa_column=Column(String(ID)))


class QcAppeal(QcTable, table=True):
    """The seller's appeal of a failure (one per case) and its review by another inspector."""

    __tablename__ = "qc_appeal"

    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), primary_key=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    appealed_by: str = Field(sa_column=Column(String(ID), nullable=False))
    appealed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    first_verdict: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))  # as it was before the review
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reviewer_id: str | None = Field(default=None, sa_column=Column(String(ID)))
    decided_at: datetime | None = _at()


class QcReturn(QcTable, table=True):
    """A certified item coming back through the warehouse on an after-sales return, and the warehouse's check."""

    __tablename__ = "qc_return"
    __table_args__ = (Index("ix_qc_return_case", "case_id"),)

    aftersale_case_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    case_id: str = Field(sa_column=Column(String(ID), ForeignKey("qc_case.case_id"), nullable=False))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # EXPECTED, then the check's outcome
    expected_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    seal_id: str | None = Field(default=None, sa_column=Column(String(100)))
    seal_intact: bool | None = Field(default=None, sa_column=Column(Boolean))
    measurements: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    mismatches: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    photo_ids: list[str] | None = Field(default=None, sa_column=Column(JSONB))
    findings: str | None = Field(default=None, sa_column=Column(Text))
    checked_by: str | None = Field(default=None, sa_column=Column(String(ID)))
    checked_at: datetime | None = _at()
