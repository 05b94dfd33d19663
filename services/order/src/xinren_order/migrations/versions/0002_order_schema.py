"""Order service schema: shops, products, orders and their timeline, the escrow ledger, refund/compensation records.

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
        "aftersale_case",
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(op.f("ix_aftersale_case_order_id"), "aftersale_case", ["order_id"], unique=False)
    op.create_table(
        "compensation_record",
        sa.Column("compensation_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payer", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("compensation_id"),
    )
    op.create_index(op.f("ix_compensation_record_order_id"), "compensation_record", ["order_id"], unique=False)
    op.create_table(
        "ledger_transaction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("shop_id", sa.String(length=64), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(op.f("ix_ledger_transaction_order_id"), "ledger_transaction", ["order_id"], unique=False)
    op.create_index(op.f("ix_ledger_transaction_shop_id"), "ledger_transaction", ["shop_id"], unique=False)
    op.create_table(
        "order_timeline_entry",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_timeline_entry_order_id"), "order_timeline_entry", ["order_id"], unique=False)
    op.create_table(
        "refund_record",
        sa.Column("refund_key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("refundable_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("refund_key"),
    )
    op.create_index(op.f("ix_refund_record_order_id"), "refund_record", ["order_id"], unique=False)
    op.create_table(
        "sales_order",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("host_id", sa.String(length=200), nullable=True),
        sa.Column("live_room_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("qc_required", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("trust_rights", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("shipping_address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("host_commission_bps", sa.Integer(), nullable=False),
        sa.Column("warehouse_hint", sa.String(length=200), nullable=True),
        sa.Column("warehouse_id", sa.String(length=200), nullable=True),
        sa.Column("warehouse_address", sa.Text(), nullable=True),
        sa.Column("qc_case_id", sa.String(length=200), nullable=True),
        sa.Column("certificate_no", sa.String(length=200), nullable=True),
        sa.Column("payment_method", sa.String(length=40), nullable=True),
        sa.Column("payment_ref", sa.String(length=100), nullable=True),
        sa.Column("shipment_destination", sa.String(length=20), nullable=True),
        sa.Column("carrier", sa.String(length=200), nullable=True),
        sa.Column("tracking_no", sa.String(length=200), nullable=True),
        sa.Column("stock_released", sa.Boolean(), nullable=False),
        sa.Column("auto_confirm_remaining_seconds", sa.Float(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shipping_late_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("refunded_fen <= paid_fen", name="ck_sales_order_refunds_within_payment"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_sales_order_buyer_created", "sales_order", ["buyer_id", "created_at", "order_id"], unique=False)
    op.create_index("ix_sales_order_created", "sales_order", ["created_at", "order_id"], unique=False)
    op.create_index("ix_sales_order_host_created", "sales_order", ["host_id", "created_at", "order_id"], unique=False)
    op.create_index("ix_sales_order_shop_created", "sales_order", ["shop_id", "created_at", "order_id"], unique=False)
    op.create_index(op.f("ix_sales_order_status"), "sales_order", ["status"], unique=False)
    op.create_table(
        "shop",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trust_rights", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("guarantee_debt_fen", sa.BigInteger(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen <> 0", name="ck_ledger_entry_non_zero"),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transaction.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ledger_entry_account"), "ledger_entry", ["account"], unique=False)
    op.create_index(op.f("ix_ledger_entry_transaction_id"), "ledger_entry", ["transaction_id"], unique=False)
    op.create_table(
        "product",
        sa.Column("sku_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("stock_available", sa.Integer(), nullable=False),
        sa.Column("qc_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("stock_available >= 0", name="ck_product_stock_non_negative"),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.shop_id"],
        ),
        sa.PrimaryKeyConstraint("sku_id"),
    )
    op.create_index(op.f("ix_product_shop_id"), "product", ["shop_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_product_shop_id"), table_name="product")
    op.drop_table("product")
    op.drop_index(op.f("ix_ledger_entry_transaction_id"), table_name="ledger_entry")
    op.drop_index(op.f("ix_ledger_entry_account"), table_name="ledger_entry")
    op.drop_table("ledger_entry")
    op.drop_table("shop")
    op.drop_index(op.f("ix_sales_order_status"), table_name="sales_order")
    op.drop_index("ix_sales_order_shop_created", table_name="sales_order")
    op.drop_index("ix_sales_order_host_created", table_name="sales_order")
    op.drop_index("ix_sales_order_created", table_name="sales_order")
    op.drop_index("ix_sales_order_buyer_created", table_name="sales_order")
    op.drop_table("sales_order")
    op.drop_index(op.f("ix_refund_record_order_id"), table_name="refund_record")
    op.drop_table("refund_record")
    op.drop_index(op.f("ix_order_timeline_entry_order_id"), table_name="order_timeline_entry")
    op.drop_table("order_timeline_entry")
    op.drop_index(op.f("ix_ledger_transaction_shop_id"), table_name="ledger_transaction")
    op.drop_index(op.f("ix_ledger_transaction_order_id"), table_name="ledger_transaction")
    op.drop_table("ledger_transaction")
    op.drop_index(op.f("ix_compensation_record_order_id"), table_name="compensation_record")
    op.drop_table("compensation_record")
    op.drop_index(op.f("ix_aftersale_case_order_id"), table_name="aftersale_case")
    op.drop_table("aftersale_case")
