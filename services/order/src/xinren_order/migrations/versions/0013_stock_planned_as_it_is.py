"""The stock trigger's statements are planned for the product table as it is when they run (`plan_cache_mode =
force_custom_plan`). A connection's PL/pgSQL keeps a statement's plan once it has run it a few times; planned while
the catalog was small (a fresh database, a new shop's first sales), the UPDATE that takes an order's stock could keep
a sequential scan of every product for the life of the connection, under the hot product row's lock.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION xinren_order_takes_stock() SET plan_cache_mode = force_custom_plan")


def downgrade() -> None:
    op.execute("ALTER FUNCTION xinren_order_takes_stock() RESET plan_cache_mode")
