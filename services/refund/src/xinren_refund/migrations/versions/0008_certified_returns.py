"""Certified returns go back through the quality-check warehouse: the order view keeps the warehouse's address.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_view", sa.Column("qc_warehouse_address", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("order_view", "qc_warehouse_address")
