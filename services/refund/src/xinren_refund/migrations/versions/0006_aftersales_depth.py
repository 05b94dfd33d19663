"""Per-line cases, exchange and reship, negotiation: the case's lines, counter-offer, evidence request, replacement
parcel and the deadlines of the new waiting states; messages on a case.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_AT = ("offer_due_at", "evidence_due_at", "replacement_ship_due_at", "replacement_receipt_due_at")
_MORE_AT = ("evidence_requested_at", "replacement_shipped_at", "completed_at")


def upgrade() -> None:
    for name in _AT + _MORE_AT:
        op.add_column("after_sale_case", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "after_sale_case",
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
    )
    op.add_column("after_sale_case", sa.Column("offer", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("after_sale_case", sa.Column("replacement_carrier", sa.String(length=100), nullable=True))
    op.add_column("after_sale_case", sa.Column("replacement_tracking_no", sa.String(length=100), nullable=True))
    op.create_table(
        "case_message",
        sa.Column("message_id", sa.String(length=200), primary_key=True),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("evidence_ids", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
    )
    op.create_index("ix_case_message_case", "case_message", ["case_id", "at", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_case_message_case", table_name="case_message")
    op.drop_table("case_message")
    for name in ("replacement_tracking_no", "replacement_carrier", "offer", "items") + _MORE_AT + _AT:
        op.drop_column("after_sale_case", name)
