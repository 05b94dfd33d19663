"""Receipt and shipment rules: the shop's return address, the order's deadlines (pay by, ship by, auto-confirm at),
the buyer's receipt extension, and the QC case as the order follows it. Live timers fill the deadlines of orders
that already run one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ORDER_TIMESTAMPS = ("auto_confirm_at", "receipt_extended_at", "pay_by", "ship_by", "qc_inbound_deadline")


def upgrade() -> None:
    op.add_column("shop", sa.Column("return_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    for name in _ORDER_TIMESTAMPS:
        op.add_column("sales_order", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column("sales_order", sa.Column("return_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("sales_order", sa.Column("qc_status", sa.String(length=32), nullable=True))
    # The deadlines of running timers (unpaid cancel, FAST_SHIPPING promise, auto-confirm) as the orders show them.
    for column, kind in (
        ("pay_by", "order.unpaid_cancel"),
        ("ship_by", "order.shipping_late"),
        ("auto_confirm_at", "order.auto_confirm"),
    ):
        op.execute(
            f"UPDATE sales_order o SET {column} = t.due_at FROM timer t "
            f"WHERE t.kind = '{kind}' AND t.key = o.order_id AND t.fired_at IS NULL AND t.cancelled_at IS NULL"
        )
    op.execute(
        "UPDATE sales_order SET qc_status = CASE status "
        "WHEN 'AWAITING_QC_INBOUND' THEN 'AWAITING_INBOUND' WHEN 'IN_TRANSIT_TO_QC' THEN 'IN_TRANSIT' "
        "WHEN 'IN_QC' THEN 'IN_INSPECTION' WHEN 'QC_PASSED' THEN 'PASSED' WHEN 'QC_FAILED' THEN 'FAILED' "
        "WHEN 'SHIPPED' THEN 'DISPATCHED' WHEN 'DELIVERED' THEN 'DISPATCHED' WHEN 'COMPLETED' THEN 'DISPATCHED' END "
        "WHERE qc_case_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("sales_order", "qc_status")
    op.drop_column("sales_order", "return_address")
    for name in reversed(_ORDER_TIMESTAMPS):
        op.drop_column("sales_order", name)
    op.drop_column("shop", "return_address")
