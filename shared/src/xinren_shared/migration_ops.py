"""Infrastructure tables every Xinren service database has (outbox, inbox, timers, idempotency keys), and what
the services' migrations share.

Each version is frozen: a change to these tables is a new function here, a new migration in each existing service,
and a new create_infra_tables_vN (everything so far) for the first migration of a new service.
"""

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_infra_tables_v1() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("principal", "key", name="pk_idempotency_key"),
    )
    op.create_table(
        "inbox_event",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_event"),
    )
    op.create_table(
        "outbox_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_outbox_event_unpublished",
        "outbox_event",
        ["seq"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "timer",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_timer_due",
        "timer",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_index(
        "ux_timer_live",
        "timer",
        ["kind", "key"],
        unique=True,
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )


def drop_infra_tables_v1() -> None:
    for table in ("timer", "outbox_event", "inbox_event", "idempotency_key"):
        op.drop_table(table)


def idempotency_answers_v2() -> None:
    """Idempotency keys are claimed and answered in the effect's own transaction: a row exists only once answered,
    so its state and lease columns say nothing any more."""
    op.drop_column("idempotency_key", "state")
    op.drop_column("idempotency_key", "locked_until")


def idempotency_leases_v1() -> None:
    """Back to the columns of the leased keys (every stored row is an answered one)."""
    op.add_column("idempotency_key", sa.Column("state", sa.String(length=20), server_default="DONE", nullable=False))
    op.alter_column("idempotency_key", "state", server_default=None)
    op.add_column("idempotency_key", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


def outbox_trace_context_v1() -> None:
    """Each outbox row keeps the W3C `traceparent` of the span that wrote it (none for rows written before)."""
    op.add_column("outbox_event", sa.Column("traceparent", sa.String(length=128), nullable=True))


def drop_outbox_trace_context_v1() -> None:
    op.drop_column("outbox_event", "traceparent")


def create_infra_tables_v2() -> None:
    """The infrastructure tables as they are now (v1, answered idempotency keys, the outbox's trace context): what
    the first migration of a new service calls."""
    create_infra_tables_v1()
    idempotency_answers_v2()
    outbox_trace_context_v1()


def drop_infra_tables_v2() -> None:
    drop_infra_tables_v1()


def housekeeping_indexes_v1() -> None:
    """BRIN indexes on the inbox's and the Idempotency-Key answers' time columns, along which housekeeping finds the
    rows past their retention (xinren_shared.housekeeping)."""
    op.create_index("ix_inbox_event_handled_at", "inbox_event", ["handled_at"], postgresql_using="brin")
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"], postgresql_using="brin")


def drop_housekeeping_indexes_v1() -> None:
    op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key")
    op.drop_index("ix_inbox_event_handled_at", table_name="inbox_event")


def earlier_revision(here: str, filename: str) -> ModuleType:
    """An earlier migration of the same history (`filename` beside `here`, the calling migration's `__file__`),
    loaded from its file: the migrations are no package. What a downgrade restores is that revision's own text,
    not a copy of it."""
    path = Path(here).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"xinren_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def or_replace(create_function: str) -> str:
    """A `CREATE FUNCTION` statement as one that replaces the function of that name (its triggers stay)."""
    return create_function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
