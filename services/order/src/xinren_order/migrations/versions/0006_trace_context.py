"""The W3C trace context of each outbox row (sent on as the Kafka record's `traceparent` header).

Revision ID: 0006
Revises: 0005
"""

from xinren_shared.migration_ops import drop_outbox_trace_context_v1, outbox_trace_context_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    outbox_trace_context_v1()


def downgrade() -> None:
    drop_outbox_trace_context_v1()
