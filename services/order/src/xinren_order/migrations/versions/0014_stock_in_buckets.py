"""A product's stock is held in buckets (`product_stock`, eight rows a product) instead of one column: the flash
sale's product is no longer one row that every order must lock in turn.

An order takes its stock as it commits (0011's deferred trigger), and a row it updated stays locked until its
commit is on disk. With one row, each order of the hot product waited for the previous one's WAL flush: the
product's sales were a chain of flushes, one order each, whatever the cores and the disk could do. Now an order
takes a line from one bucket that holds all of it and that no other commit holds (`FOR UPDATE SKIP LOCKED`, the
fullest first), so up to eight orders of one product commit side by side and share a flush. When every such bucket
is held, it waits for one of them chosen at random: more orders in flight than buckets queue evenly behind the
eight, not all behind one. Only when no bucket holds the whole line (the last units, a line larger than any bucket)
does it lock every bucket of the product in bucket order, waiting for the commits that hold them, and take the line
from as many as it needs, or refuse it (XR409, as before) with the product's whole stock as `available`.

Every writer follows the same order: products in sku order; within a product, either one bucket (holding none of
the product's others while it waits for it) or all of them in bucket order. No two writers can wait for each other.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from xinren_shared.migration_ops import earlier_revision, or_replace

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BUCKETS = 8  # xinren_order.stock.BUCKETS, as of this revision

# A block with an EXCEPTION clause runs as a subtransaction: leaving it by the exception `XR000` ("not this way")
# undoes it, row locks included. A bucket locked on the way and found short (another commit took from it meanwhile) is
# let go before the next way waits for anything, so no order ever waits while holding a bucket it does not use.
TAKE_FROM_BUCKETS = """
CREATE OR REPLACE FUNCTION xinren_order_takes_stock() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    line record;
    held record;
    chosen smallint;
    total bigint;
    remaining bigint;
BEGIN
    FOR line IN
        SELECT item->>'sku_id' AS sku_id, sum((item->>'quantity')::bigint) AS quantity
        FROM jsonb_array_elements(NEW.items) AS item
        GROUP BY 1
        ORDER BY 1
    LOOP
        -- 1. The fullest bucket that holds the line and that no other commit holds: no wait.
        BEGIN
            UPDATE product_stock SET available = available - line.quantity
            WHERE (sku_id, bucket) = (
                SELECT s.sku_id, s.bucket FROM product_stock AS s
                WHERE s.sku_id = line.sku_id AND s.available >= line.quantity
                ORDER BY s.available DESC, s.bucket
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            );
            IF FOUND THEN
                CONTINUE;
            END IF;
            RAISE SQLSTATE 'XR000';
        EXCEPTION WHEN SQLSTATE 'XR000' THEN
            NULL;
        END;
        -- 2. Each such bucket is held: wait for one of them, chosen at random, and take the line if it still can.
        BEGIN
            SELECT s.bucket INTO chosen FROM product_stock AS s
            WHERE s.sku_id = line.sku_id AND s.available >= line.quantity
            ORDER BY random()
            LIMIT 1;
            IF FOUND THEN
                SELECT s.bucket, s.available INTO held FROM product_stock AS s
                WHERE s.sku_id = line.sku_id AND s.bucket = chosen
                FOR UPDATE;
                IF held.available >= line.quantity THEN
                    UPDATE product_stock SET available = available - line.quantity
                    WHERE sku_id = line.sku_id AND bucket = chosen;
                    CONTINUE;
                END IF;
            END IF;
            RAISE SQLSTATE 'XR000';
        EXCEPTION WHEN SQLSTATE 'XR000' THEN
            NULL;
        END;
        -- 3. No bucket holds the whole line: all of them, locked in bucket order, and the line from as many as it
        -- takes, or the order refused with the product's whole stock.
        SELECT coalesce(sum(locked.available), 0) INTO total FROM (
            SELECT s.available FROM product_stock AS s WHERE s.sku_id = line.sku_id ORDER BY s.bucket FOR UPDATE
        ) AS locked;
        IF total < line.quantity THEN
            RAISE EXCEPTION USING
                ERRCODE = 'XR409',
                MESSAGE = json_build_object(
                    'code', 'OUT_OF_STOCK',
                    'message', 'not enough stock of ' || line.sku_id,
                    'details', json_build_object('sku_id', line.sku_id, 'requested', line.quantity, 'available', total)
                )::text;
        END IF;
        remaining := line.quantity;
        FOR held IN
            SELECT s.bucket, s.available FROM product_stock AS s
            WHERE s.sku_id = line.sku_id AND s.available > 0
            ORDER BY s.available DESC, s.bucket
        LOOP
            UPDATE product_stock SET available = available - least(held.available, remaining)
            WHERE sku_id = line.sku_id AND bucket = held.bucket;
            remaining := remaining - least(held.available, remaining);
            EXIT WHEN remaining = 0;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    # Updated often and only in `available`: room on each page for the new row versions (HOT updates).
    op.execute(
        "CREATE TABLE product_stock ("
        " sku_id VARCHAR(64) NOT NULL REFERENCES product (sku_id) ON DELETE CASCADE,"
        " bucket SMALLINT NOT NULL,"
        " available INTEGER NOT NULL,"
        " CONSTRAINT pk_product_stock PRIMARY KEY (sku_id, bucket),"
        " CONSTRAINT ck_product_stock_available_non_negative CHECK (available >= 0)"
        ") WITH (fillfactor = 50)"
    )
    # Each product's stock spread evenly, the remainder one unit each to the first buckets.
    op.execute(
        "INSERT INTO product_stock (sku_id, bucket, available) "
        f"SELECT p.sku_id, b, p.stock_available / {BUCKETS} + (b < p.stock_available % {BUCKETS})::int "
        f"FROM product AS p CROSS JOIN generate_series(0, {BUCKETS - 1}) AS b"
    )
    op.execute(TAKE_FROM_BUCKETS)
    op.execute("ALTER TABLE product DROP COLUMN stock_available")


def downgrade() -> None:
    op.execute("ALTER TABLE product ADD COLUMN stock_available INTEGER NOT NULL DEFAULT 0")
    op.execute(
        "UPDATE product AS p SET stock_available = s.total "
        "FROM (SELECT sku_id, sum(available) AS total FROM product_stock GROUP BY sku_id) AS s "
        "WHERE s.sku_id = p.sku_id"
    )
    op.execute("ALTER TABLE product ALTER COLUMN stock_available DROP DEFAULT")
    op.execute("ALTER TABLE product ADD CONSTRAINT ck_product_stock_non_negative CHECK (stock_available >= 0)")
    # 0011's function, as 0013 left it planned.
    op.execute(or_replace(earlier_revision(__file__, "0011_stock_taken_at_commit.py").TAKE_STOCK))
    earlier_revision(__file__, "0013_stock_planned_as_it_is.py").upgrade()
    op.execute("DROP TABLE product_stock")
