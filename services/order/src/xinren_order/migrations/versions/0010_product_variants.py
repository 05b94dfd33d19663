"""Product variants: products of a shop sharing a product_id are variants of one product (an exchange may swap them).
Rows from before keep product_id null: each sku its own product.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("product", sa.Column("product_id", sa.String(length=64), nullable=True))
    op.create_index("ix_product_product_id", "product", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_product_product_id", table_name="product")
    op.drop_column("product", "product_id")
