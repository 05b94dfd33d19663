"""Request and response models of the order API (never the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xinren_shared.contracts.vocabulary import Destination, TrustRight
from xinren_shared.fields import IsoDatetime

from .domain import ID_PATTERN

Id = Annotated[str, Field(pattern=rf"^{ID_PATTERN}$", description="letters, digits, _ . - (max 64)")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$", description="lower-case category, e.g. jade")]


class Request(BaseModel):
    """Unknown fields are ignored (a client-sent price, say, never counts)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, v: Any) -> Any:
        # PostgreSQL text cannot hold NUL: refuse it here as a 422, not later as a database error.
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("NUL characters are not allowed")
        return v


class ShippingAddress(Request):
    """A postal address: the buyer's shipping address, or a shop's return address."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 \-]{4,31}$")]
    province: Annotated[str, Field(min_length=1, max_length=100)]
    city: Annotated[str, Field(min_length=1, max_length=100)]
    district: Annotated[str, Field(min_length=1, max_length=100)]
    line1: Annotated[str, Field(min_length=1, max_length=300)]


# --- shops and products -----------------------------------------------------------------------------------


class ShopCreate(Request):
    shop_id: Id | None = None
    name: Text
    trust_rights: list[TrustRight] = Field(default_factory=list, max_length=len(TrustRight))
    deposit_fen: int = Field(default=0, ge=0, le=10**12, strict=True)
    return_address: ShippingAddress | None = None

    @field_validator("trust_rights")
    @classmethod
    def _unique(cls, v: list[TrustRight]) -> list[TrustRight]:
        if len(set(v)) != len(v):
            raise ValueError("trust_rights must not repeat")
        return v


class ShopUpdate(Request):
    """PATCH /v1/shops/{id}: what is given changes, the rest stays."""

    name: Text | None = None
    return_address: ShippingAddress | None = None
    # Returned items received back go into stock (true, the default) or are written off (false).
    restock_returns: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ShopUpdate:
        if self.name is None and self.return_address is None and self.restock_returns is None:
            raise ValueError("give name, return_address or restock_returns")
        return self


class ShopPublic(BaseModel):
    shop_id: str
    name: str
    trust_rights: list[TrustRight]
    status: str
    strikes: int = Field(
        description="Deprecated: no longer updated (the quality check no longer suspends shops); the shop's "
        "enforcement history is the trust service's (GET /v1/trust/shops/{shop_id}).",
        json_schema_extra={"deprecated": True},
    )
    created_at: datetime | None
    # Where returns and QC-failed items go (None until the shop sets it).
    return_address: dict[str, Any] | None = None
    suspended_at: datetime | None = None
    # Only for the shop's seller and admins.
    deposit_fen: int | None = None
    seller_balance_fen: int | None = None
    guarantee_debt_fen: int | None = None
    # Returned items received back go into stock (true) or are written off (false).
    restock_returns: bool = True
    # The shop's public trust band and score, as the trust service last published them (None while unknown).
    trust_band: str | None = None
    trust_score: float | None = None


class ProductCreate(Request):
    sku_id: Id | None = None
    title: Text
    category: Category
    price_fen: int = Field(gt=0, le=10**11, strict=True)
    stock: int = Field(ge=0, le=10_000_000)
    # The variant group (e.g. one bangle in sizes 52/54/56): products of the shop sharing it are variants an
    # exchange may swap; default: the sku is its own product.
    product_id: Id | None = None


class StockAdd(Request):
    quantity: int = Field(gt=0, le=10_000_000)


class ProductPublic(BaseModel):
    sku_id: str
    shop_id: str
    product_id: str | None = None  # the variant group (the sku itself when it has no variants)
    title: str
    category: str
    price_fen: int
    stock_available: int
    qc_required: bool
    warehouse_hint: str | None
    created_at: datetime | None
    # The product's public trust band and score, as the trust service last published them (None while unknown).
    trust_band: str | None = None
    trust_score: float | None = None


# --- hosts and cooperations -------------------------------------------------------------------------------


class HostCreate(Request):
    host_id: Id
    name: Text


class HostPublic(BaseModel):
    host_id: str
    name: str
    created_at: datetime


class CooperationCreate(Request):
    host_id: Id
    # None: the service's default rate (settings.default_host_commission_bps).
    commission_bps: int | None = Field(default=None, ge=0, le=10_000, strict=True)
    # None: every product of the shop; else only these (a cooperation naming a sku wins over a shop-wide one).
    sku_ids: list[Id] | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("sku_ids")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("sku_ids must not repeat")
        return v


class CooperationPublic(BaseModel):
    cooperation_id: str
    shop_id: str
    host_id: str
    commission_bps: int
    sku_ids: list[str] | None
    status: str
    created_at: datetime
    ended_at: datetime | None


# --- orders -----------------------------------------------------------------------------------------------


class OrderItemIn(Request):
    sku_id: Id
    quantity: int = Field(ge=1, le=999)


class OrderCreate(Request):
    shop_id: Id
    items: list[OrderItemIn] = Field(min_length=1, max_length=50)
    # A registered host cooperating with the shop for every ordered sku, never the buyer.
    host_id: Id | None = None
    live_room_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    shipping_address: ShippingAddress

    @field_validator("items")
    @classmethod
    def _unique_skus(cls, v: list[OrderItemIn]) -> list[OrderItemIn]:
        if len({i.sku_id for i in v}) != len(v):
            raise ValueError("each sku_id may appear once; use quantity")
        return v


class TrustBandPublic(BaseModel):
    """A public trust band and score as the trust service last published them (both None while unknown)."""

    band: str | None = None
    score: float | None = None


class ItemTrustPublic(TrustBandPublic):
    sku_id: str


class OrderTrust(BaseModel):
    """The shop's and each ordered product's trust band today (not at the time of the order)."""

    shop: TrustBandPublic
    items: list[ItemTrustPublic]


class OrderItemPublic(BaseModel):
    sku_id: str
    title: str
    category: str
    unit_price_fen: int
    quantity: int
    subtotal_fen: int
    qc_required: bool


class TimelineEntry(BaseModel):
    at: datetime
    status: str
    from_status: str | None
    actor: str
    reason: str | None
    # The merged timeline: ORDER (the order's own steps), QC (steps the quality check caused), AFTERSALES (a case's
    # steps, from the refund service's events: `event` names the step, `case_id` the case).
    source: Literal["ORDER", "QC", "AFTERSALES"] = "ORDER"
    case_id: str | None = None
    event: str | None = None


class AfterSaleSummary(BaseModel):
    """An after-sales case of the order as the order screen shows it (from the refund service's events)."""

    case_id: str
    type: str | None
    status: str
    due_at: datetime | None
    open: bool


class QcInfo(BaseModel):
    """The order's QC case as the QC service's events told it (status names of the QC service)."""

    case_id: str | None
    status: str | None
    certificate_no: str | None
    inbound_deadline: datetime | None


class ShipmentInfo(BaseModel):
    destination: Destination | None
    carrier: str | None
    tracking_no: str | None
    shipped_at: datetime | None


class OrderPublic(BaseModel):
    order_id: str
    status: str
    buyer_id: str
    shop_id: str
    host_id: str | None
    live_room_id: str | None
    items: list[OrderItemPublic]
    total_fen: int
    paid_fen: int
    refunded_fen: int
    refundable_fen: int
    qc_required: bool
    category: str
    trust_rights: list[str]
    warehouse_id: str | None
    warehouse_address: str | None
    warehouse_hint: str | None
    qc_case_id: str | None
    certificate_no: str | None
    shipment: ShipmentInfo
    host_commission_bps: int
    payment_method: str | None
    payment_ref: str | None
    aftersale_open: bool
    auto_confirm_paused: bool
    shipping_late_at: datetime | None
    paid_at: datetime | None
    delivered_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Deadlines: pay by (while CREATED), ship by (set at payment), auto-confirm (None unless its clock runs).
    pay_by: datetime | None = None
    ship_by: datetime | None = None
    auto_confirm_at: datetime | None = None
    receipt_extended_at: datetime | None = None
    qc: QcInfo | None = None  # QC orders only
    # Only for the owner buyer, the shop's seller and admins.
    shipping_address: dict[str, Any] | None = None
    return_address: dict[str, Any] | None = None
    # The order's after-sales cases, oldest first.
    aftersales: list[AfterSaleSummary] = []
    # Order, QC and after-sales steps merged, in time order.
    timeline: list[TimelineEntry]
    # The shop's and products' trust bands: on the order reads (GET /v1/orders/{id}, GET /v1/orders), None in the
    # answers of writes.
    trust: OrderTrust | None = None


class PayRequest(Request):
    amount_fen: int = Field(strict=True)  # strict, as every amount a client sends: JSON true or "100" is no amount
    method: Annotated[str, Field(min_length=1, max_length=40)]


class CancelRequest(Request):
    reason: Annotated[str, Field(max_length=500)] | None = None


class ShipmentCreate(Request):
    carrier: Annotated[str, Field(min_length=1, max_length=64)]
    tracking_no: Annotated[str, Field(min_length=1, max_length=100)]


class ShipmentPublic(BaseModel):
    order_id: str
    status: str
    destination: Destination
    address: str
    warehouse_id: str | None
    carrier: str
    tracking_no: str
    shipped_at: datetime
    auto_confirm_at: datetime | None = None


class DeliveryCreate(Request):
    tracking_no: Annotated[str, Field(min_length=1, max_length=100)]
    delivered_at: IsoDatetime | None = None


# --- ledger -----------------------------------------------------------------------------------------------


class LedgerEntryPublic(BaseModel):
    account: str
    amount_fen: int


class LedgerTransactionPublic(BaseModel):
    transaction_id: int
    key: str
    kind: str
    order_id: str | None
    shop_id: str | None
    memo: str | None
    created_at: datetime
    entries: list[LedgerEntryPublic]


class BalancePublic(BaseModel):
    account: str
    balance_fen: int


class LedgerCheckPublic(BaseModel):
    ok: bool
    transactions: int
    violations: list[dict[str, Any]]
