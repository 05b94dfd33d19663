"""After-sales: the order view, cases with their timeline, and compensations.

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
        "after_sale_case",
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("buyer_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("system_key", sa.String(length=200), nullable=True),
        sa.Column("return_required", sa.Boolean(), nullable=False),
        sa.Column("rules_applied", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("refund_id", sa.String(length=200), nullable=True),
        sa.Column("refund_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("return_carrier", sa.String(length=100), nullable=True),
        sa.Column("return_tracking_no", sa.String(length=100), nullable=True),
        sa.Column("review_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("refund_id", name="uq_after_sale_case_refund_id"),
        sa.UniqueConstraint("system_key", name="uq_after_sale_case_system_key"),
    )
    op.create_index("ix_after_sale_case_buyer", "after_sale_case", ["buyer_id", "created_at", "case_id"], unique=False)
    op.create_index("ix_after_sale_case_created", "after_sale_case", ["created_at", "case_id"], unique=False)
    op.create_index("ix_after_sale_case_order", "after_sale_case", ["order_id", "status"], unique=False)
    op.create_index("ix_after_sale_case_shop", "after_sale_case", ["shop_id", "created_at", "case_id"], unique=False)
    op.create_table(
        "case_timeline_entry",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_timeline_entry_case", "case_timeline_entry", ["case_id", "id"], unique=False)
    op.create_table(
        "compensation",
        sa.Column("compensation_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=True),
        sa.Column("buyer_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payer", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("compensation_id"),
        sa.UniqueConstraint("dedupe_key", name="uq_compensation_dedupe_key"),
    )
    op.create_index(
        "ix_compensation_buyer", "compensation", ["buyer_id", "created_at", "compensation_id"], unique=False
    )
    op.create_index("ix_compensation_case", "compensation", ["case_id"], unique=False)
    op.create_index("ix_compensation_created", "compensation", ["created_at", "compensation_id"], unique=False)
    op.create_index("ix_compensation_order", "compensation", ["order_id"], unique=False)
    op.create_index("ix_compensation_shop", "compensation", ["shop_id", "created_at", "compensation_id"], unique=False)
    op.create_table(
        "order_view",
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("buyer_id", sa.String(length=200), nullable=True),
        sa.Column("shop_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("trust_rights", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("qc_required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("total_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_total_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_qc_outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )


def downgrade() -> None:
    op.drop_table("order_view")
    op.drop_index("ix_compensation_shop", table_name="compensation")
    op.drop_index("ix_compensation_order", table_name="compensation")
    op.drop_index("ix_compensation_created", table_name="compensation")
    op.drop_index("ix_compensation_case", table_name="compensation")
    op.drop_index("ix_compensation_buyer", table_name="compensation")
    op.drop_table("compensation")
    op.drop_index("ix_case_timeline_entry_case", table_name="case_timeline_entry")
    op.drop_table("case_timeline_entry")
    op.drop_index("ix_after_sale_case_shop", table_name="after_sale_case")
    op.drop_index("ix_after_sale_case_order", table_name="after_sale_case")
    op.drop_index("ix_after_sale_case_created", table_name="after_sale_case")
    op.drop_index("ix_after_sale_case_buyer", table_name="after_sale_case")
    op.drop_table("after_sale_case")
