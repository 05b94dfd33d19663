"""Evidence attached to after-sales messages, readable by the parties of that after-sales case.

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
    op.create_table(
        "evidence_aftersale",
        sa.Column("evidence_id", sa.String(length=200), nullable=False),
        sa.Column("aftersale_case_id", sa.String(length=200), nullable=False),
        sa.Column("buyer_id", sa.String(length=200), nullable=True),
        sa.Column("shop_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.evidence_id"]),
        sa.PrimaryKeyConstraint("evidence_id", "aftersale_case_id"),
    )


def downgrade() -> None:
    op.drop_table("evidence_aftersale")
