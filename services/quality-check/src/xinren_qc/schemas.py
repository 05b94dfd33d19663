"""Request and response models of the quality-check API (never the table models themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason

from .domain import CaseStatus, ShopStatus, StrikeReason, VerdictResult

ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- warehouses -------------------------------------------------------------------------------------------------


class WarehouseCreate(Strict):
    warehouse_id: ClientId | None = None
    name: Text200
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    categories: list[Category] = Field(min_length=1, max_length=100)

    @field_validator("categories")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class WarehousePublic(BaseModel):
    warehouse_id: str
    name: str
    address: str
    categories: list[str]
    open_cases: int
    created_at: datetime


class WarehouseCreated(WarehousePublic):
    # Cases that waited for a warehouse inspecting one of these categories and were routed here now.
    routed_case_ids: list[str] = []


# --- cases ------------------------------------------------------------------------------------------------------


class ItemPublic(BaseModel):
    sku_id: str | None = None
    title: str
    category: str
    unit_price_fen: int | None = None
    quantity: int | None = None


class VerdictPublic(BaseModel):
    result: VerdictResult
    failure_reason: QcFailureReason | None = None
    findings: str
    photos: list[str]
    inspector_id: str
    decided_at: datetime


class ShipmentPublic(BaseModel):
    carrier: str | None = None
    tracking_no: str | None = None


class DispatchPublic(BaseModel):
    to: DispatchTarget
    carrier: str
    tracking_no: str
    dispatched_at: datetime
    dispatched_by: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    status: CaseStatus
    actor: str
    reason: str | None = None


class CasePublic(BaseModel):
    case_id: str
    order_id: str
    buyer_id: str
    shop_id: str
    category: str
    items: list[ItemPublic]
    warehouse_id: str | None
    status: CaseStatus
    inbound_deadline: datetime | None
    inbound_shipment: ShipmentPublic | None
    arrived_at: datetime | None
    verdict: VerdictPublic | None
    certificate_no: str | None
    dispatch: DispatchPublic | None
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineEntry] = []


class ArrivalIn(Strict):
    tracking_no: Text100


class VerdictIn(Strict):
    result: VerdictResult
    failure_reason: QcFailureReason | None = None
    findings: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
    photos: list[AnyHttpUrl] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _reason_goes_with_result(self) -> VerdictIn:
        if self.result is VerdictResult.FAILED and self.failure_reason is None:
            raise ValueError("a FAILED verdict needs a failure_reason")
        if self.result is VerdictResult.PASSED and self.failure_reason is not None:
            raise ValueError("a PASSED verdict has no failure_reason")
        if self.result is VerdictResult.FAILED and not self.findings:
            raise ValueError("a FAILED verdict needs findings")
        return self


class DispatchIn(Strict):
    carrier: Text100
    tracking_no: Text100


class RouteIn(Strict):
    warehouse_id: str = Field(min_length=1, max_length=200)


# --- certificates -----------------------------------------------------------------------------------------------


class CertificateItem(BaseModel):
    title: str
    category: str


class CertificateWarehouse(BaseModel):
    warehouse_id: str
    name: str


class CertificateInspector(BaseModel):
    inspector_id: str


class CertificatePublic(BaseModel):
    """What anyone may verify: no buyer, no address, no phone, no price."""

    certificate_no: str
    order_id: str
    case_id: str
    verdict: VerdictResult
    items: list[CertificateItem]
    category: str
    findings: str
    photos: list[str]
    warehouse: CertificateWarehouse
    inspector: CertificateInspector
    issued_at: datetime
    dispatched: bool


# --- strikes ----------------------------------------------------------------------------------------------------


class StrikePublic(BaseModel):
    strike_id: str
    case_id: str
    order_id: str
    reason: StrikeReason
    struck_at: datetime
    active: bool  # within the counting window


class ShopStrikes(BaseModel):
    shop_id: str
    status: ShopStatus
    suspended_at: datetime | None
    strikes_at_suspension: int | None
    active_strikes: int
    threshold: int
    window_days: float
    strikes: list[StrikePublic]
