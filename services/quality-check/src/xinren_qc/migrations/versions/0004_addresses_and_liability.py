"""Addresses on the case (the buyer's, the shop's return address, the one a dispatch used), the certificate's
status with its revocation, and inspection errors recorded against the warehouse and its inspector.

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
    for name in ("shipping_address", "return_address", "dispatch_address"):
        op.add_column("qc_case", sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("qc_case", sa.Column("certificate_status", sa.String(length=16), nullable=True))
    op.add_column("qc_case", sa.Column("certificate_revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("qc_case", sa.Column("certificate_revocation_reason", sa.Text(), nullable=True))
    op.add_column("qc_case", sa.Column("certificate_revoked_for", sa.String(length=200), nullable=True))
    # Every certificate issued so far is valid.
    op.execute("UPDATE qc_case SET certificate_status = 'VALID' WHERE certificate_no IS NOT NULL")
    op.create_table(
        "inspection_error",
        sa.Column("error_id", sa.String(length=200), nullable=False),
        sa.Column("warehouse_id", sa.String(length=200), nullable=False),
        sa.Column("inspector_id", sa.String(length=200), nullable=True),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("shop_id", sa.String(length=200), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), nullable=False),
        sa.Column("aftersale_case_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["qc_case.case_id"]),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouse.warehouse_id"]),
        sa.PrimaryKeyConstraint("error_id"),
        sa.UniqueConstraint("case_id", name="uq_inspection_error_case_id"),
    )
    op.create_index(
        "ix_inspection_error_warehouse", "inspection_error", ["warehouse_id", "recorded_at", "error_id"], unique=False
    )
    op.create_index("ix_inspection_error_inspector", "inspection_error", ["inspector_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inspection_error_inspector", table_name="inspection_error")
    op.drop_index("ix_inspection_error_warehouse", table_name="inspection_error")
    op.drop_table("inspection_error")
    for name in (
        "certificate_revoked_for",
        "certificate_revocation_reason",
        "certificate_revoked_at",
        "certificate_status",
        "dispatch_address",
        "return_address",
        "shipping_address",
    ):
        op.drop_column("qc_case", name)
