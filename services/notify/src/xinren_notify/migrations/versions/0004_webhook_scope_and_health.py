"""Webhook subscriptions record the shops they receive (a partner's grants) and their health (failing since,
disabled, next probe).

Existing subscriptions: one narrowed to a shop keeps that shop; one of a partner without a shop gets none (the
partner subscribes again with a token that grants its shops); an admin's keeps every shop (NULL).

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
    op.add_column("webhook_subscription", sa.Column("shops", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("webhook_subscription", sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_subscription", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("webhook_subscription", sa.Column("next_probe_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE webhook_subscription
        SET shops = CASE WHEN shop_id IS NOT NULL THEN jsonb_build_array(shop_id) ELSE '[]'::jsonb END
        WHERE shop_id IS NOT NULL OR owner LIKE 'partner:%'
        """
    )


def downgrade() -> None:
    op.drop_column("webhook_subscription", "next_probe_at")
    op.drop_column("webhook_subscription", "disabled_at")
    op.drop_column("webhook_subscription", "failing_since")
    op.drop_column("webhook_subscription", "shops")
