"""Tables of the trust service's own database: what it learned from events, observations, scores, enforcement."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from xinren_shared.tables import define_infra_tables


class TrustTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


metadata = TrustTable.metadata
infra = define_infra_tables(metadata)

ID = 200  # length of ids we store, ours and other services'


def _at(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, **kw))


def _str(length: int = ID, nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(String(length), nullable=nullable, **kw))


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))


class OrderFact(TrustTable, table=True):
    """What an order's later events need to be attributed: its shop, host, products, rights and ship-by time."""

    __tablename__ = "order_fact"

    order_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    shop_id: str = Field(sa_column=Column(String(ID), nullable=False))
    host_id: str | None = _str()
    sku_ids: list[str] = _json_list()
    trust_rights: list[str] = _json_list()
    ship_by: datetime | None = _at()


class CaseFact(TrustTable, table=True):
    """An after-sales case as far as scores need it: when it was asked, whether it went to arbitration."""

    __tablename__ = "case_fact"

    case_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    order_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str | None = _str()
    requested_at: datetime | None = _at()
    # Cases the platform opens itself (QC failures, expiries, paid cancellations) are no seller's response time.
    platform_case: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    escalated: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))


class Observation(TrustTable, table=True):
    """One event's share in one indicator of one subject (num over den, see domain.Measure); `source` makes a
    redelivered or repeated fact count once. Voided when an appeal overturns the action it led to."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("source", name="uq_observation_source"),
        Index("ix_observation_subject", "subject_kind", "subject_id", "indicator", "at"),
        Index("ix_observation_order", "order_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    subject_kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: str = Field(sa_column=Column(String(ID), nullable=False))
    indicator: str = Field(sa_column=Column(String(64), nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    num: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
    den: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
    order_id: str | None = _str()
    source: str = Field(sa_column=Column(String(400), nullable=False))
    voided: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))


class TrustScore(TrustTable, table=True):
    """A subject's last computed score and band, with each indicator's value and contribution."""

    __tablename__ = "trust_score"
    __table_args__ = (Index("ix_trust_score_band", "subject_kind", "band", "subject_id"),)

    subject_kind: str = Field(sa_column=Column(String(16), primary_key=True))
    subject_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    shop_id: str | None = _str()  # a product's shop (its seller sees its indicators)
    score: float = Field(sa_column=Column(Float, nullable=False))
    band: str = Field(sa_column=Column(String(32), nullable=False))
    indicators: list[dict[str, Any]] = _json_list()
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Standing(TrustTable, table=True):
    """A shop's or host's standing; locked while a violation is counted, so ladder steps are taken one at a time."""

    __tablename__ = "standing"

    subject_kind: str = Field(sa_column=Column(String(16), primary_key=True))
    subject_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    updated_at: datetime | None = _at(False, server_default=func.now())


class ViolationRecord(TrustTable, table=True):
    """One violation of a shop or host (once per source fact); it counts on its ladder unless voided."""

    __tablename__ = "violation"
    __table_args__ = (
        UniqueConstraint("source", name="uq_violation_source"),
        Index("ix_violation_subject", "subject_kind", "subject_id", "kind", "at"),
    )

    violation_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    subject_kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: str = Field(sa_column=Column(String(ID), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    order_id: str | None = _str()
    source: str = Field(sa_column=Column(String(400), nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    voided: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))


class EnforcementAction(TrustTable, table=True):
    """A step of the ladder taken against a shop or host; its status follows domain.ACTION."""

    __tablename__ = "enforcement_action"
    __table_args__ = (
        Index("ix_action_shop", "shop_id", "at", "action_id"),
        Index("ix_action_host", "host_id", "at", "action_id"),
        Index("ix_action_at", "at", "action_id"),
    )

    action_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    subject_kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str | None = _str()
    host_id: str | None = _str()
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    violation: str = Field(sa_column=Column(String(32), nullable=False))
    violation_id: str = Field(sa_column=Column(String(ID), nullable=False))
    step: int = Field(sa_column=Column(BigInteger, nullable=False))
    fine_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    order_id: str | None = _str()
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Appeal(TrustTable, table=True):
    """A seller's or host's appeal of one action (one per action), decided by an admin."""

    __tablename__ = "appeal"
    __table_args__ = (
        UniqueConstraint("action_id", name="uq_appeal_action_id"),
        Index("ix_appeal_status", "status", "created_at", "appeal_id"),
    )

    appeal_id: str = Field(sa_column=Column(String(ID), primary_key=True))
    action_id: str = Field(sa_column=Column(String(ID), nullable=False))
    subject_kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject_id: str = Field(sa_column=Column(String(ID), nullable=False))
    shop_id: str | None = _str()
    host_id: str | None = _str()
    by: str = Field(sa_column=Column(String(ID), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    evidence_ids: list[str] = _json_list()
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    decided_at: datetime | None = _at()
    decided_by: str | None = _str()
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
