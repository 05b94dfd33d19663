"""Hosts, their cooperations with shops, and the commission an order takes from its cooperation.

Orders placed before this revision keep the host rate fixed on them (`sales_order.host_commission_bps`); their
lines carry no rate of their own, and the release applies the order's rate to each of them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host",
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host_id"),
    )
    op.create_table(
        "cooperation",
        sa.Column("cooperation_id", sa.String(length=64), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("commission_bps", sa.Integer(), nullable=False),
        sa.Column("sku_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("commission_bps BETWEEN 0 AND 10000", name="ck_cooperation_commission_bps"),
        sa.ForeignKeyConstraint(["host_id"], ["host.host_id"]),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.shop_id"]),
        sa.PrimaryKeyConstraint("cooperation_id"),
    )
    op.create_index(
        "ix_cooperation_host_created", "cooperation", ["host_id", "created_at", "cooperation_id"], unique=False
    )
    op.create_index(
        "ix_cooperation_shop_created", "cooperation", ["shop_id", "created_at", "cooperation_id"], unique=False
    )
    op.create_index("ix_cooperation_shop_host", "cooperation", ["shop_id", "host_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cooperation_shop_host", table_name="cooperation")
    op.drop_index("ix_cooperation_shop_created", table_name="cooperation")
    op.drop_index("ix_cooperation_host_created", table_name="cooperation")
    op.drop_table("cooperation")
    op.drop_table("host")
