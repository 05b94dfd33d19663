"""Replacement inspections: an exchange's or reship's replacement of a QC product is a case of its own for the same
order (qc_case.aftersale_case_id); the order's own item keeps one case per order (a partial unique index), and each
replacement parcel one case.

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
    op.add_column("qc_case", sa.Column("aftersale_case_id", sa.String(length=200), nullable=True))
    op.drop_constraint("uq_qc_case_order_id", "qc_case", type_="unique")
    op.create_index(
        "uq_qc_case_order_id",
        "qc_case",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("aftersale_case_id IS NULL"),
    )
    op.create_unique_constraint(
        "uq_qc_case_replacement_parcel", "qc_case", ["aftersale_case_id", "inbound_tracking_no"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_qc_case_replacement_parcel", "qc_case", type_="unique")
    # Refused (unique violation) while replacements' cases exist: they would share their order's id.
    op.drop_index("uq_qc_case_order_id", table_name="qc_case")
    op.create_unique_constraint("uq_qc_case_order_id", "qc_case", ["order_id"])
    op.drop_column("qc_case", "aftersale_case_id")
