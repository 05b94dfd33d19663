"""Strikes and suspensions move to the trust service: quality check keeps its strikes as a record and drops the
per-shop enforcement state (the trust service owns the shop's standing).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("shop_enforcement")


def downgrade() -> None:
    op.create_table(
        "shop_enforcement",
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("strikes_at_suspension", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("shop_id"),
    )
