"""Quality-check schema: warehouses, cases with their timeline, strikes and shop enforcement.

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
        "shop_enforcement",
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("strikes_at_suspension", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "warehouse",
        sa.Column("warehouse_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=100)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("warehouse_id"),
    )
    op.create_table(
        "qc_case",
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("buyer_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", sa.String(length=200), nullable=True),
        sa.Column("inbound_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inbound_carrier", sa.String(length=100), nullable=True),
        sa.Column("inbound_tracking_no", sa.String(length=100), nullable=True),
        sa.Column("arrival_tracking_no", sa.String(length=100), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_by", sa.String(length=200), nullable=True),
        sa.Column("verdict_result", sa.String(length=16), nullable=True),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("photos", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("inspector_id", sa.String(length=200), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certificate_no", sa.String(length=64), nullable=True),
        sa.Column("dispatch_to", sa.String(length=16), nullable=True),
        sa.Column("dispatch_carrier", sa.String(length=100), nullable=True),
        sa.Column("dispatch_tracking_no", sa.String(length=100), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.warehouse_id"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("certificate_no", name="uq_qc_case_certificate_no"),
        sa.UniqueConstraint("order_id", name="uq_qc_case_order_id"),
    )
    op.create_index("ix_qc_case_created", "qc_case", ["created_at", "case_id"], unique=False)
    op.create_index("ix_qc_case_shop", "qc_case", ["shop_id"], unique=False)
    op.create_index("ix_qc_case_status_category", "qc_case", ["status", "category"], unique=False)
    op.create_index("ix_qc_case_warehouse_status", "qc_case", ["warehouse_id", "status"], unique=False)
    op.create_table(
        "qc_case_event",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["qc_case.case_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qc_case_event_case", "qc_case_event", ["case_id", "id"], unique=False)
    op.create_table(
        "strike",
        sa.Column("strike_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("struck_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["qc_case.case_id"],
        ),
        sa.PrimaryKeyConstraint("strike_id"),
        sa.UniqueConstraint("case_id", name="uq_strike_case_id"),
    )
    op.create_index("ix_strike_shop", "strike", ["shop_id", "struck_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_strike_shop", table_name="strike")
    op.drop_table("strike")
    op.drop_index("ix_qc_case_event_case", table_name="qc_case_event")
    op.drop_table("qc_case_event")
    op.drop_index("ix_qc_case_warehouse_status", table_name="qc_case")
    op.drop_index("ix_qc_case_status_category", table_name="qc_case")
    op.drop_index("ix_qc_case_shop", table_name="qc_case")
    op.drop_index("ix_qc_case_created", table_name="qc_case")
    op.drop_table("qc_case")
    op.drop_table("warehouse")
    op.drop_table("shop_enforcement")
