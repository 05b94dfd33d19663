"""Tables of the notify service's own database."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from xinren_shared.tables import define_infra_tables


class NotifyTable(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, apart from the other services'."""


def _now_column() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class OrderView(NotifyTable, table=True):
    """Who an order concerns, learnt from its events: the fallback for events that do not name everyone."""

    __tablename__ = "order_view"

    order_id: str = Field(sa_column=Column(String(100), primary_key=True))
    buyer_id: str | None = Field(default=None, max_length=100)
    shop_id: str | None = Field(default=None, max_length=100)
    host_id: str | None = Field(default=None, max_length=100)
    warehouse_id: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(sa_column=_now_column())


class InboxCursor(NotifyTable, table=True):
    """The last stream sequence given out per recipient. Taking the next number locks this row until commit, so
    one recipient's notifications become visible in sequence order and `Last-Event-ID` can resume exactly."""

    __tablename__ = "inbox_cursor"

    recipient: str = Field(sa_column=Column(String(120), primary_key=True))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False, server_default="0"))


class Notification(NotifyTable, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", name="uq_notification_event_recipient"),
        UniqueConstraint("recipient", "seq", name="uq_notification_recipient_seq"),
        Index("ix_notification_unread", "recipient", "seq", postgresql_where=text("read_at IS NULL")),
        Index("ix_notification_unnumbered", "recipient", "id", postgresql_where=text("seq IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    notification_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    recipient: str = Field(sa_column=Column(String(120), nullable=False))  # "buyer:u1", "shop:s1", ...
    # Per recipient, increasing: the SSE id. Given at commit (migration 0006's trigger), so never None once committed.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    event_id: str = Field(sa_column=Column(String(64), nullable=False))
    event_type: str = Field(sa_column=Column(String(200), nullable=False))
    order_id: str | None = Field(default=None, max_length=100)
    title_zh: str = Field(sa_column=Column(Text, nullable=False))
    body_zh: str = Field(sa_column=Column(Text, nullable=False))
    title_en: str = Field(sa_column=Column(Text, nullable=False))
    body_en: str = Field(sa_column=Column(Text, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=_now_column())
    read_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookSubscription(NotifyTable, table=True):
    __tablename__ = "webhook_subscription"
    __table_args__ = (Index("ix_webhook_subscription_owner", "owner", "created_at"),)

    webhook_id: str = Field(sa_column=Column(String(40), primary_key=True))
    owner: str = Field(sa_column=Column(String(200), nullable=False))  # "<role>:<sub>" of the creator
    url: str = Field(sa_column=Column(Text, nullable=False))
    event_types: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    # The shops whose events the subscription receives, recorded from the partner's grants when it subscribed
    # (narrowed to shop_id if one was asked for); NULL: every shop (an admin's subscription).
    shops: list[str] | None = Field(default=None, sa_column=Column(JSONB(none_as_null=True)))
    # The one shop the subscription was narrowed to, if any (always one of `shops`).
    shop_id: str | None = Field(default=None, max_length=100)
    # The signing secret is never stored: it is derived from the service key and this salt (see webhooks.py).
    secret_salt: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: datetime = Field(sa_column=_now_column())
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Health: FAILING since the first failed attempt after the last success; DISABLED once failing for the whole
    # retry window (nothing is attempted until the partner recovers it). next_probe_at: the next early try.
    failing_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    next_probe_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class WebhookDelivery(NotifyTable, table=True):
    """One event for one subscription: a durable job with its own retry schedule."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where=text("status IN ('PENDING', 'RETRYING')")),
        # The strict-order check: is an earlier event of this subscription and order still open?
        Index(
            "ix_webhook_delivery_open",
            "webhook_id",
            "order_key",
            "seq",
            postgresql_where=text("status IN ('PENDING', 'RETRYING')"),
        ),
        Index("ix_webhook_delivery_log", "webhook_id", "seq"),
    )

    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    delivery_id: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    webhook_id: str = Field(sa_column=Column(String(40), ForeignKey("webhook_subscription.webhook_id"), nullable=False))
    event_id: str = Field(sa_column=Column(String(64), nullable=False))
    event_type: str = Field(sa_column=Column(String(200), nullable=False))
    order_key: str = Field(sa_column=Column(String(200), nullable=False))  # the Kafka key: the order (or shop) id
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))  # the CloudEvent, structured mode
    status: str = Field(sa_column=Column(String(20), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    failures: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    window_ends_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(sa_column=_now_column())


class WebhookAttempt(NotifyTable, table=True):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_seq", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    delivery_seq: int = Field(sa_column=Column(BigInteger, ForeignKey("webhook_delivery.seq"), nullable=False))
    attempt: int = Field(sa_column=Column(BigInteger, nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    duration_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    status_code: int | None = Field(default=None)
    error: str | None = Field(default=None, sa_column=Column(Text))
    response_excerpt: str | None = Field(default=None, sa_column=Column(Text))


metadata = NotifyTable.metadata
infra = define_infra_tables(metadata)
