"""BRIN indexes on the inbox's and the Idempotency-Key answers' time columns, along which housekeeping finds the rows
past their retention (xinren_shared.housekeeping).

Revision ID: 0010
Revises: 0009
"""

from xinren_shared.migration_ops import drop_housekeeping_indexes_v1, housekeeping_indexes_v1

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    housekeeping_indexes_v1()


def downgrade() -> None:
    drop_housekeeping_indexes_v1()
