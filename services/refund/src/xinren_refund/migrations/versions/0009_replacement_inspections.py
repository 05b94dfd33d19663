"""A QC product's replacement is inspected at the quality-check warehouse first: the case keeps the inspection case
there and the certificate the replacement was given.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("after_sale_case", sa.Column("replacement_qc_case_id", sa.String(length=200), nullable=True))
    op.add_column("after_sale_case", sa.Column("replacement_certificate_no", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("after_sale_case", "replacement_certificate_no")
    op.drop_column("after_sale_case", "replacement_qc_case_id")
