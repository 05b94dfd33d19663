"""The shops' trust bands as the trust service publishes them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_band",
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("rights", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id"),
    )


def downgrade() -> None:
    op.drop_table("shop_band")
