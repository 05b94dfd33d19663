"""Request and response models of the quality-check API (never the table models themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason

from .domain import (
    AppealStatus,
    CaseStatus,
    CertificateStatus,
    InspectionErrorKind,
    ReturnStatus,
    ShopStatus,
    StrikeReason,
    VerdictResult,
)

ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
EvidenceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,200}$")]
SealId = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9-]{4,64}$")]
Measure = float | Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
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
    capacity: int | None = None
    created_at: datetime


class WarehousePatch(Strict):
    """Admin: what the warehouse inspects and how many open cases it holds (null capacity: no limit)."""

    categories: list[Category] | None = Field(default=None, min_length=1, max_length=100)
    capacity: int | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("categories")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))


class WarehouseCreated(WarehousePublic):
    # Cases that waited for a warehouse inspecting one of these categories and were routed here now.
    routed_case_ids: list[str] = []


# --- addresses --------------------------------------------------------------------------------------------------


class Address(BaseModel):
    """A postal address as the buyer or the shop gave it to the order service."""

    name: str
    phone: str
    province: str
    city: str
    district: str
    line1: str


class AddressIn(Strict):
    name: Text100
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+() -]{3,40}$")]
    province: Text100
    city: Text100
    district: Text100
    line1: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


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
    photo_ids: list[str] = []
    measurements: dict[str, Any] = {}
    seal_id: str | None = None
    inspector_id: str
    decided_at: datetime
    # None while the seller may still appeal a failure (until appeal_due_at) or while an appeal is reviewed.
    final_at: datetime | None = None


class ShipmentPublic(BaseModel):
    carrier: str | None = None
    tracking_no: str | None = None


class DispatchPublic(BaseModel):
    to: DispatchTarget
    carrier: str
    tracking_no: str
    dispatched_at: datetime
    dispatched_by: str | None = None
    # Where it was sent (shown to whoever may read that address: see access.ADDRESS_READERS).
    address: Address | None = None


class TimelineEntry(BaseModel):
    at: datetime
    status: CaseStatus
    actor: str
    reason: str | None = None


class CasePublic(BaseModel):
    case_id: str
    order_id: str
    # Set on the inspection of an exchange's or reship's replacement: the refund service's case it is for.
    aftersale_case_id: str | None = None
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
    certificate_status: CertificateStatus | None = None
    certificate_revoked_at: datetime | None = None
    dispatch: DispatchPublic | None
    appeal_due_at: datetime | None = None
    appeal: AppealPublic | None = None
    assigned_inspector_id: str | None = None
    returns: list[ReturnPublic] = []
    # The buyer's address (admin, warehouse, inspector, buyer) and the shop's return address (admin, warehouse,
    # inspector, seller); None for other readers or when the order gave none.
    shipping_address: Address | None = None
    return_address: Address | None = None
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
    # The category's checklist (GET /v1/qc/checklists/{category}): a pass needs every required measurement, the
    # photos (uploaded evidence) and the seal's tag id.
    measurements: dict[Text100, Measure] = Field(default_factory=dict, max_length=50)
    photo_ids: list[EvidenceId] = Field(default_factory=list, max_length=50)
    seal_id: SealId | None = None

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
    # Only where the order gave none (a shop without a return address): a known address cannot be redirected.
    address: AddressIn | None = None


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
    status: CertificateStatus
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    # The tamper-evident tag on the item, what was measured, when; `qr` is the path the tag's QR code opens.
    seal_id: str | None = None
    measurements: dict[str, Any] = {}
    inspected_at: datetime | None = None
    qr: str


# --- inspection errors ------------------------------------------------------------------------------------------


class InspectionErrorPublic(BaseModel):
    error_id: str
    warehouse_id: str
    inspector_id: str | None
    case_id: str
    order_id: str
    shop_id: str
    certificate_no: str
    aftersale_case_id: str
    kind: InspectionErrorKind
    reason: str
    recorded_at: datetime


# --- strikes ----------------------------------------------------------------------------------------------------


class StrikePublic(BaseModel):
    strike_id: str
    case_id: str
    order_id: str
    reason: StrikeReason
    struck_at: datetime
    active: bool  # within the counting window


class ShopStrikes(BaseModel):
    """The strikes quality check recorded. The shop's standing is the trust service's (GET /v1/trust/shops/{id}):
    status, suspended_at, strikes_at_suspension and threshold are deprecated and always null."""

    shop_id: str
    status: ShopStatus | None = Field(default=None, deprecated=True)
    suspended_at: datetime | None = Field(default=None, deprecated=True)
    strikes_at_suspension: int | None = Field(default=None, deprecated=True)
    active_strikes: int
    threshold: int | None = Field(default=None, deprecated=True)
    window_days: float
    strikes: list[StrikePublic]


# --- appeals, returns ---------------------------------------------------------------------


class AppealIn(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]
    evidence_ids: list[EvidenceId] = Field(default_factory=list, max_length=20)


class AppealPublic(BaseModel):
    reason: str
    evidence_ids: list[str]
    appealed_by: str
    appealed_at: datetime
    status: AppealStatus
    first_verdict: dict[str, Any]
    reviewer_id: str | None = None
    decided_at: datetime | None = None


class AssignIn(Strict):
    inspector_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ReturnCheckIn(Strict):
    """The warehouse's check of a certified item coming back on an after-sales return."""

    aftersale_case_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    seal_id: SealId | None = None  # the tag found on the item (None: no tag)
    seal_intact: bool
    measurements: dict[Text100, Measure] = Field(default_factory=dict, max_length=50)
    photo_ids: list[EvidenceId] = Field(default_factory=list, max_length=50)
    findings: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""


class ReturnPublic(BaseModel):
    aftersale_case_id: str
    status: ReturnStatus
    expected_at: datetime
    seal_id: str | None = None
    seal_intact: bool | None = None
    measurements: dict[str, Any] | None = None
    mismatches: list[str] | None = None
    photo_ids: list[str] | None = None
    findings: str | None = None
    checked_by: str | None = None
    checked_at: datetime | None = None
