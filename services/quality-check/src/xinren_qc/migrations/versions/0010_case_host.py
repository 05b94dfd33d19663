"""The live room's host who sold the order, on its case (from order.paid): qc.failed tells it, so that the trust
service charges a counterfeit to the host even before it has seen the order's own events.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("qc_case", sa.Column("host_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("qc_case", "host_id")
