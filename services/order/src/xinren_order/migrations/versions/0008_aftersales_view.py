"""The order's view of its after-sales cases and per-line quantities: each case's handling way, deadline and stock
effects, the after-sales steps for the merged timeline, partial stock releases, the shop's restock setting.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shop", sa.Column("restock_returns", sa.Boolean(), server_default="true", nullable=False))
    op.add_column(
        "sales_order",
        sa.Column("stock_released_items", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.execute("UPDATE sales_order SET stock_released_items = '{}'::jsonb")
    op.alter_column("sales_order", "stock_released_items", nullable=False)
    op.add_column("aftersale_case", sa.Column("type", sa.String(length=32), nullable=True))
    op.add_column("aftersale_case", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("aftersale_case", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "aftersale_case", sa.Column("replacement_reserved", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.execute("UPDATE aftersale_case SET replacement_reserved = '{}'::jsonb")
    op.alter_column("aftersale_case", "replacement_reserved", nullable=False)
    op.add_column(
        "aftersale_case", sa.Column("replacement_shipped", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("aftersale_case", sa.Column("restocked", sa.Boolean(), server_default="false", nullable=False))
    op.create_table(
        "aftersale_timeline_entry",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_aftersale_timeline_entry_order", "aftersale_timeline_entry", ["order_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_aftersale_timeline_entry_order", table_name="aftersale_timeline_entry")
    op.drop_table("aftersale_timeline_entry")
    for name in ("restocked", "replacement_shipped", "replacement_reserved", "created_at", "due_at", "type"):
        op.drop_column("aftersale_case", name)
    op.drop_column("sales_order", "stock_released_items")
    op.drop_column("shop", "restock_returns")
