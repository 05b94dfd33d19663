"""Request and response models of the notify API (never the table models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xinren_shared.fields import IsoDatetime

from .domain import SubscriptionState, subscription_state

Lang = Literal["zh", "en"]


class NotificationPublic(BaseModel):
    notification_id: str
    seq: int = Field(description="this inbox's stream sequence: the SSE event id, increasing")
    event_id: str
    event_type: str
    order_id: str | None
    lang: Lang = Field(description="the language of `title`/`body`: from Accept-Language, Chinese by default")
    title: str
    body: str
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    data: dict[str, str] = Field(description="ids to link to: order, case, certificate, tracking number, ...")
    occurred_at: datetime
    created_at: datetime
    read: bool
    read_at: datetime | None

    @classmethod
    def of(cls, row: Any, lang: Lang) -> NotificationPublic:
        zh = lang == "zh"
        return cls(
            notification_id=row.notification_id,
            seq=row.seq,
            event_id=row.event_id,
            event_type=row.event_type,
            order_id=row.order_id,
            lang=lang,
            title=row.title_zh if zh else row.title_en,
            body=row.body_zh if zh else row.body_en,
            title_zh=row.title_zh,
            body_zh=row.body_zh,
            title_en=row.title_en,
            body_en=row.body_en,
            data=row.data or {},
            occurred_at=row.occurred_at,
            created_at=row.created_at,
            read=row.read_at is not None,
            read_at=row.read_at,
        )


class UnreadCount(BaseModel):
    unread: int


class MarkAllRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to_seq: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="only notifications up to this seq (what was shown)"
    )

    @field_validator("up_to_seq", mode="before")
    @classmethod
    def _a_number(cls, v: Any) -> Any:
        # Lax parsing would take JSON true as 1 and "3" as 3: neither is a sequence number.
        if isinstance(v, bool | str):
            raise ValueError("up_to_seq must be an integer")
        return v


class MarkedRead(BaseModel):
    marked: int


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, description="http(s) URL that receives POSTs")
    event_types: list[str] = Field(min_length=1, max_length=100, description='event types, or ["*"] for all')
    description: str | None = Field(default=None, max_length=500)
    shop_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="only this shop's events (one the token grants)"
    )

    @field_validator("event_types")
    @classmethod
    def _no_blank_types(cls, value: list[str]) -> list[str]:
        if any(not t.strip() or len(t) > 200 for t in value):
            raise ValueError("event types must be non-empty names")
        return value


class WebhookPublic(BaseModel):
    webhook_id: str
    url: str
    event_types: list[str]
    description: str | None
    shops: list[str] | None = Field(
        description="the shops whose events it receives (the partner's grants when it subscribed); null: every shop"
    )
    shop_id: str | None = Field(description="the one shop it was narrowed to, if any")
    created_at: datetime
    state: SubscriptionState = Field(
        description="HEALTHY; FAILING since `failing_since`; DISABLED after failing for the whole retry window"
    )
    failing_since: datetime | None
    disabled_at: datetime | None
    backlog: int = Field(description="deliveries not yet made (pending or retrying)")

    @classmethod
    def of(cls, row: Any, *, backlog: int) -> WebhookPublic:
        return cls(
            webhook_id=row.webhook_id,
            url=row.url,
            event_types=row.event_types,
            description=row.description,
            shops=row.shops,
            shop_id=row.shop_id,
            created_at=row.created_at,
            state=subscription_state(row.failing_since, row.disabled_at),
            failing_since=row.failing_since,
            disabled_at=row.disabled_at,
            backlog=backlog,
        )


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="whsec_<base64>: shown only in this response; verify signatures with it")


class RecoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: IsoDatetime = Field(description="deliveries queued from this time on (ISO 8601 with a time zone)")


class RecoveryStarted(BaseModel):
    webhook_id: str
    since: datetime
    requeued: int = Field(description="failed or dead deliveries queued again, sent in order per order")


class DeliveryPublic(BaseModel):
    delivery_id: str
    webhook_id: str
    event_id: str = Field(description="also the webhook-id header, the same on every attempt")
    event_type: str
    order_id: str = Field(description="the event's Kafka key: the order id (the shop id for shop events)")
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> DeliveryPublic:
        return cls(
            delivery_id=row.delivery_id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            event_type=row.event_type,
            order_id=row.order_key,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            last_attempt_at=row.last_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
        )


class AttemptPublic(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response_excerpt: str | None


class DeliveryDetail(DeliveryPublic):
    event: dict[str, Any] = Field(description="the CloudEvent as sent (structured mode)")
    attempt_log: list[AttemptPublic]


class CatalogEntry(BaseModel):
    type: str
    topic: str
    key: str = Field(description="the field whose value is the Kafka record key")
    description: str | None
    json_schema: dict[str, Any] = Field(serialization_alias="schema")
    example: dict[str, Any]


class Catalog(BaseModel):
    items: list[CatalogEntry]
    next_cursor: str | None = None
