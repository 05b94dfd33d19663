"""BRIN indexes on the inbox's and the Idempotency-Key answers' time columns, along which housekeeping finds the rows
past their retention (xinren_shared.housekeeping).

Revision ID: 0004
Revises: 0003
"""

from xinren_shared.migration_ops import drop_housekeeping_indexes_v1, housekeeping_indexes_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    housekeeping_indexes_v1()


def downgrade() -> None:
    drop_housekeeping_indexes_v1()
