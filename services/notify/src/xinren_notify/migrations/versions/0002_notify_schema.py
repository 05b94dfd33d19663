"""Notify schema: inbox (notifications, per-recipient stream cursors), order view, webhook subscriptions,
deliveries and their attempt log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_cursor",
        sa.Column("recipient", sa.String(length=120), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("recipient"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("notification_id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("title_zh", sa.Text(), nullable=False),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("title_en", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "recipient", name="uq_notification_event_recipient"),
        sa.UniqueConstraint("notification_id"),
        sa.UniqueConstraint("recipient", "seq", name="uq_notification_recipient_seq"),
    )
    op.create_index(
        "ix_notification_unread",
        "notification",
        ["recipient", "seq"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "order_view",
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("buyer_id", sa.String(length=100), nullable=True),
        sa.Column("shop_id", sa.String(length=100), nullable=True),
        sa.Column("host_id", sa.String(length=100), nullable=True),
        sa.Column("warehouse_id", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("webhook_id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event_types", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("shop_id", sa.String(length=100), nullable=True),
        sa.Column("secret_salt", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id"),
    )
    op.create_index("ix_webhook_subscription_owner", "webhook_subscription", ["owner", "created_at"], unique=False)
    op.create_table(
        "webhook_delivery",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("webhook_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("order_key", sa.String(length=200), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook_subscription.webhook_id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("delivery_id"),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'RETRYING')"),
    )
    op.create_index("ix_webhook_delivery_log", "webhook_delivery", ["webhook_id", "seq"], unique=False)
    op.create_index(
        "ix_webhook_delivery_open",
        "webhook_delivery",
        ["webhook_id", "order_key", "seq"],
        unique=False,
        postgresql_where=sa.text("status IN ('PENDING', 'RETRYING')"),
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("delivery_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_seq"],
            ["webhook_delivery.seq"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_attempt_delivery", "webhook_attempt", ["delivery_seq", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_webhook_attempt_delivery", table_name="webhook_attempt")
    op.drop_table("webhook_attempt")
    op.drop_index(
        "ix_webhook_delivery_open",
        table_name="webhook_delivery",
        postgresql_where=sa.text("status IN ('PENDING', 'RETRYING')"),
    )
    op.drop_index("ix_webhook_delivery_log", table_name="webhook_delivery")
    op.drop_index(
        "ix_webhook_delivery_due",
        table_name="webhook_delivery",
        postgresql_where=sa.text("status IN ('PENDING', 'RETRYING')"),
    )
    op.drop_table("webhook_delivery")
    op.drop_index("ix_webhook_subscription_owner", table_name="webhook_subscription")
    op.drop_table("webhook_subscription")
    op.drop_table("order_view")
    op.drop_index("ix_notification_unread", table_name="notification", postgresql_where=sa.text("read_at IS NULL"))
    op.drop_table("notification")
    op.drop_table("inbox_cursor")
