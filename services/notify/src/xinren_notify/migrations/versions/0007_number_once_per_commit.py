"""A commit numbers its notifications by looking only at its own. The numbering trigger (0006) fires for every
notification row, and each firing looked for the unnumbered rows with a scan of their whole partial index. That
index also holds the entries of every row numbered since the last vacuum (a row is written unnumbered, then numbered
by an UPDATE), so under a flash sale (one shop, thousands of notifications a minute) each commit's scan grew with the
traffic before it: after a burst, notify's commits took most of the database's CPU.

Now each INSERT notes the ids it wrote (a statement trigger reads them from its transition table into the
transaction-local setting `xinren.unnumbered`), and the commit's first firing numbers those rows, found by key. Every
later firing finds its own row numbered and returns at once. Without a note (a row written by a statement the
trigger did not see) every unnumbered row is looked for, as before, by an index scan (which marks the entries of
numbered rows dead as it passes them; the bitmap scan the planner chose never did).

Each of the trigger's statements is planned for the table as it is when it runs (`plan_cache_mode =
force_custom_plan`). A connection's PL/pgSQL keeps a statement's plan once it has run it a few times: planned while
the table was small (a fresh database, the first minutes after a deploy), the numbering's UPDATE kept a sequential
scan of the whole table, for every notification, for the life of the connection.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from xinren_shared.migration_ops import earlier_revision, or_replace

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOTE = """
CREATE FUNCTION xinren_notifications_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('xinren.unnumbered', true), '');
    ids text;
BEGIN
    SELECT string_agg(id::text, ',') INTO ids FROM written;
    IF ids IS NOT NULL THEN
        PERFORM set_config('xinren.unnumbered', CASE WHEN noted = '' THEN ids ELSE noted || ',' || ids END, true);
    END IF;
    RETURN NULL;
END
$$
"""

NOTE_TRIGGER = """
CREATE TRIGGER notifications_written AFTER INSERT ON notification REFERENCING NEW TABLE AS written
FOR EACH STATEMENT EXECUTE FUNCTION xinren_notifications_written()
"""

NUMBER = """
DECLARE
    noted bigint[];
    unnumbered refcursor;
    batch record;
    last bigint;
BEGIN
    -- Numbered by an earlier firing of this commit (the first numbers every row the transaction wrote).
    IF (SELECT seq FROM notification WHERE id = NEW.id) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    noted := string_to_array(nullif(current_setting('xinren.unnumbered', true), ''), ',')::bigint[];
    PERFORM set_config('xinren.unnumbered', '', true);
    -- Rows without a number are this transaction's own: another's are invisible until they commit, numbered.
    -- Recipient by recipient, in order, so that two commits never deadlock on their cursors.
    IF noted IS NOT NULL THEN
        -- The rows noted, by key, then put in order: the planner is kept (OFFSET 0, coalesce) from scanning an
        -- index in recipient order, or the unnumbered rows' index, whole instead.
        OPEN unnumbered FOR
            SELECT recipient, array_agg(id ORDER BY id) AS ids
            FROM (
                SELECT id, recipient FROM notification
                WHERE id = ANY(array_append(noted, NEW.id)) AND coalesce(seq, -1) = -1
                OFFSET 0
            ) AS mine
            GROUP BY recipient ORDER BY recipient;
    ELSE
        -- No note (a row written by a statement the statement trigger did not see): every unnumbered row.
        OPEN unnumbered FOR
            SELECT recipient, array_agg(id ORDER BY id) AS ids FROM notification WHERE seq IS NULL
            GROUP BY recipient ORDER BY recipient;
    END IF;
    LOOP
        FETCH unnumbered INTO batch;
        EXIT WHEN NOT FOUND;
        INSERT INTO inbox_cursor AS cursor (recipient, last_seq) VALUES (batch.recipient, cardinality(batch.ids))
        ON CONFLICT (recipient) DO UPDATE SET last_seq = cursor.last_seq + cardinality(batch.ids)
        RETURNING last_seq INTO last;
        UPDATE notification SET seq = last - cardinality(batch.ids) + numbered.n
        FROM unnest(batch.ids) WITH ORDINALITY AS numbered(id, n)
        WHERE notification.id = numbered.id;
    END LOOP;
    CLOSE unnumbered;
    RETURN NULL;
END
"""


def _as_0006_made_it() -> str:
    """0006's numbering function, from that migration itself (for the downgrade)."""
    created: str = earlier_revision(__file__, "0006_inbox_sequence_at_commit.py").NUMBER
    return or_replace(created)


def _number(body: str, settings: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION xinren_notification_takes_its_seq() RETURNS trigger LANGUAGE plpgsql"
        f"{settings} AS $${body}$$"
    )


def upgrade() -> None:
    op.execute(NOTE)
    op.execute(NOTE_TRIGGER)
    op.execute(_number(NUMBER, " SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan"))


def downgrade() -> None:
    op.execute(_as_0006_made_it())
    op.execute("ALTER FUNCTION xinren_notification_takes_its_seq() RESET ALL")
    op.execute("DROP TRIGGER notifications_written ON notification")
    op.execute("DROP FUNCTION xinren_notifications_written()")
