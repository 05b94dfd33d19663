"""Idempotency keys answered in the effect's own transaction: no state or lease columns.

Revision ID: 0002
Revises: 0001
"""

from xinren_shared.migration_ops import idempotency_answers_v2, idempotency_leases_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    idempotency_answers_v2()


def downgrade() -> None:
    idempotency_leases_v1()
