"""Case deadlines (the buyer's return-send deadline, the seller's receipt deadline), close codes, certificates; the
order view's return address and certificate.

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
    op.add_column("order_view", sa.Column("return_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("order_view", sa.Column("certificate_no", sa.String(length=200), nullable=True))
    op.add_column("after_sale_case", sa.Column("return_receipt_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("after_sale_case", sa.Column("certificate_no", sa.String(length=200), nullable=True))
    op.add_column("after_sale_case", sa.Column("close_code", sa.String(length=32), nullable=True))
    # return_due_at was the seller's receipt deadline; it is now the buyer's deadline to send the goods back.
    op.execute(
        "UPDATE after_sale_case SET return_receipt_due_at = return_due_at, return_due_at = NULL "
        "WHERE return_due_at IS NOT NULL"
    )
    # Cases already waiting for a return keep no send deadline (none was promised to the buyer).
    # Only live deadlines are shown: those of states the case has left are cleared.
    op.execute("UPDATE after_sale_case SET review_due_at = NULL WHERE status <> 'REQUESTED'")
    op.execute("UPDATE after_sale_case SET return_receipt_due_at = NULL WHERE status <> 'RETURN_SHIPPED'")
    op.execute("UPDATE after_sale_case SET escalation_due_at = NULL WHERE status <> 'REJECTED'")


def downgrade() -> None:
    op.execute("UPDATE after_sale_case SET return_due_at = return_receipt_due_at")
    op.drop_column("after_sale_case", "close_code")
    op.drop_column("after_sale_case", "certificate_no")
    op.drop_column("after_sale_case", "return_receipt_due_at")
    op.drop_column("order_view", "certificate_no")
    op.drop_column("order_view", "return_address")
