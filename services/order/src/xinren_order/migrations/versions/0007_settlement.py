"""Settlement: pending and available shares, payouts, statements.

The shares themselves live in the ledger (seller_pending:/host_pending: accounts, payout:{id} in flight); these
tables record each payout, the statement it pays and which ledger entries each statement settled.

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
        "payout",
        sa.Column("payout_id", sa.String(length=64), nullable=False),
        sa.Column("party_kind", sa.String(length=8), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name="ck_payout_amount_positive"),
        sa.PrimaryKeyConstraint("payout_id"),
        sa.UniqueConstraint("party_kind", "party_id", "period", name="uq_payout_party_period"),
    )
    op.create_index(
        "ix_payout_party_created", "payout", ["party_kind", "party_id", "created_at", "payout_id"], unique=False
    )
    op.create_index(op.f("ix_payout_status"), "payout", ["status"], unique=False)
    op.create_table(
        "settlement_statement",
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.Column("party_kind", sa.String(length=8), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("payout_id", sa.String(length=64), nullable=False),
        sa.Column("payout_fen", sa.BigInteger(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("statement_id"),
        sa.UniqueConstraint("payout_id"),
    )
    op.create_index(
        "ix_settlement_statement_party_created",
        "settlement_statement",
        ["party_kind", "party_id", "created_at", "statement_id"],
        unique=False,
    )
    op.create_table(
        "statement_entry",
        sa.Column("ledger_entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("statement_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entry.id"]),
        sa.PrimaryKeyConstraint("ledger_entry_id"),
    )
    op.create_index(op.f("ix_statement_entry_statement_id"), "statement_entry", ["statement_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_statement_entry_statement_id"), table_name="statement_entry")
    op.drop_table("statement_entry")
    op.drop_index("ix_settlement_statement_party_created", table_name="settlement_statement")
    op.drop_table("settlement_statement")
    op.drop_index(op.f("ix_payout_status"), table_name="payout")
    op.drop_index("ix_payout_party_created", table_name="payout")
    op.drop_table("payout")
