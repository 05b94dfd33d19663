"""Evidence, checklists, seals, appeals, verified returns, warehouse operations: uploaded photos and where they are
used, the verdict's measurements, photo ids and seal, the appeal of a failure, returns checked at the warehouse,
a warehouse's capacity and the inspector a case is assigned to.

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

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.add_column("warehouse", sa.Column("capacity", sa.Integer(), nullable=True))
    op.add_column("qc_case", sa.Column("measurements", _JSONB, nullable=True))
    op.add_column("qc_case", sa.Column("photo_ids", _JSONB, nullable=True))
    op.add_column("qc_case", sa.Column("seal_id", sa.String(length=100), nullable=True))
    op.add_column("qc_case", sa.Column("verdict_final_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("qc_case", sa.Column("appeal_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("qc_case", sa.Column("assigned_inspector_id", sa.String(length=200), nullable=True))
    op.create_unique_constraint("uq_qc_case_seal_id", "qc_case", ["seal_id"])
    # Every verdict given so far was final when given (there were no appeals).
    op.execute("UPDATE qc_case SET verdict_final_at = verdict_at WHERE verdict_at IS NOT NULL")
    op.create_table(
        "evidence",
        sa.Column("evidence_id", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("evidence_id"),
        sa.UniqueConstraint("sha256", "uploaded_by", name="uq_evidence_sha256_uploader"),
    )
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"], unique=False)
    op.create_table(
        "evidence_link",
        sa.Column("evidence_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["qc_case.case_id"]),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.evidence_id"]),
        sa.PrimaryKeyConstraint("evidence_id", "case_id", "purpose"),
    )
    op.create_index("ix_evidence_link_case", "evidence_link", ["case_id"], unique=False)
    op.create_table(
        "qc_appeal",
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_ids", _JSONB, nullable=False),
        sa.Column("appealed_by", sa.String(length=200), nullable=False),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_verdict", _JSONB, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["qc_case.case_id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "qc_return",
        sa.Column("aftersale_case_id", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seal_id", sa.String(length=100), nullable=True),
        sa.Column("seal_intact", sa.Boolean(), nullable=True),
        sa.Column("measurements", _JSONB, nullable=True),
        sa.Column("mismatches", _JSONB, nullable=True),
        sa.Column("photo_ids", _JSONB, nullable=True),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("checked_by", sa.String(length=200), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["qc_case.case_id"]),
        sa.PrimaryKeyConstraint("aftersale_case_id"),
    )
    op.create_index("ix_qc_return_case", "qc_return", ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_qc_return_case", table_name="qc_return")
    op.drop_table("qc_return")
    op.drop_table("qc_appeal")
    op.drop_index("ix_evidence_link_case", table_name="evidence_link")
    op.drop_table("evidence_link")
    op.drop_index("ix_evidence_sha256", table_name="evidence")
    op.drop_table("evidence")
    op.drop_constraint("uq_qc_case_seal_id", "qc_case", type_="unique")
    for name in ("assigned_inspector_id", "appeal_due_at", "verdict_final_at", "seal_id", "photo_ids", "measurements"):
        op.drop_column("qc_case", name)
    op.drop_column("warehouse", "capacity")
