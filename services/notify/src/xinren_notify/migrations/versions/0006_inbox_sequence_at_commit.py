"""A notification takes its inbox sequence number at commit: a deferred constraint trigger numbers every notification
the transaction wrote, recipient by recipient (in order, so two commits never deadlock on their cursors), in the
order they were written. A recipient's cursor row is then locked only inside PostgreSQL's commit. Before, it stayed
locked from a consumer batch's first notification to that batch's commit, and every other batch for the same shop (a
flash sale's) waited for it or deadlocked with it. Numbers are still given in commit order per recipient, so an SSE
stream resumed after its Last-Event-ID misses nothing.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NUMBER = """
CREATE FUNCTION xinren_notification_takes_its_seq() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch record;
    last bigint;
BEGIN
    -- Rows without a number are this transaction's own: another's are invisible until they commit, numbered.
    -- The first row's trigger numbers them all; the others find nothing left.
    FOR batch IN
        SELECT recipient, array_agg(id ORDER BY id) AS ids
        FROM notification
        WHERE seq IS NULL
        GROUP BY recipient
        ORDER BY recipient
    LOOP
        INSERT INTO inbox_cursor AS cursor (recipient, last_seq) VALUES (batch.recipient, cardinality(batch.ids))
        ON CONFLICT (recipient) DO UPDATE SET last_seq = cursor.last_seq + cardinality(batch.ids)
        RETURNING last_seq INTO last;
        UPDATE notification SET seq = last - cardinality(batch.ids) + numbered.n
        FROM unnest(batch.ids) WITH ORDINALITY AS numbered(id, n)
        WHERE notification.id = numbered.id;
    END LOOP;
    RETURN NULL;
END $$;
"""

TRIGGER = """
CREATE CONSTRAINT TRIGGER notification_takes_its_seq AFTER INSERT ON notification
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xinren_notification_takes_its_seq();
"""


def upgrade() -> None:
    op.alter_column("notification", "seq", existing_type=sa.BigInteger(), nullable=True)
    op.create_index(
        "ix_notification_unnumbered",
        "notification",
        ["recipient", "id"],
        unique=False,
        postgresql_where=sa.text("seq IS NULL"),
    )
    op.execute(NUMBER)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER notification_takes_its_seq ON notification")
    op.execute("DROP FUNCTION xinren_notification_takes_its_seq()")
    op.drop_index("ix_notification_unnumbered", table_name="notification")
    op.alter_column("notification", "seq", existing_type=sa.BigInteger(), nullable=False)
