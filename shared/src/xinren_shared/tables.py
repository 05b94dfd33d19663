"""The infrastructure tables every service database has: outbox, inbox, timers, idempotency keys.

They are defined on the service's own MetaData so that each service's Alembic history creates them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


@dataclass(frozen=True)
class InfraTables:
    outbox: Table
    inbox: Table
    timer: Table
    idempotency: Table


def define_infra_tables(metadata: MetaData) -> InfraTables:
    outbox = Table(
        "outbox_event",
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("subject", String(200)),
        Column("data", JSONB, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
        # The W3C trace context the event was written in (tracing.py); the relay sends it as a `traceparent` header.
        Column("traceparent", String(128)),
        Index("ix_outbox_event_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    )
    inbox = Table(
        "inbox_event",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("type", String(200), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_event"),
        # Rows are added in time order: a BRIN index finds the old ones housekeeping deletes, at a few pages' cost.
        Index("ix_inbox_event_handled_at", "handled_at", postgresql_using="brin"),
    )
    timer = Table(
        "timer",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("kind", String(100), nullable=False),
        Column("key", String(200), nullable=False),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("fired_at", DateTime(timezone=True)),
        Column("cancelled_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
        # At most one live timer per (kind, key): scheduling again replaces the due time.
        Index(
            "ux_timer_live",
            "kind",
            "key",
            unique=True,
            postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
        Index("ix_timer_due", "due_at", postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL")),
    )
    idempotency = Table(
        "idempotency_key",
        metadata,
        Column("principal", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("scope", String(300), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("response_status", Integer),
        Column("response_headers", JSONB),
        Column("response_body", LargeBinary),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("principal", "key", name="pk_idempotency_key"),
        Index("ix_idempotency_key_created_at", "created_at", postgresql_using="brin"),
    )
    return InfraTables(outbox, inbox, timer, idempotency)
