"""A new order takes its stock at commit: a deferred constraint trigger on sales_order takes each line's quantity
(rows locked in sku order, so two orders never deadlock) while the transaction commits. The hot product row of a
flash sale is then locked only inside PostgreSQL's commit, never across a round trip to the service. A line short of
stock fails the commit with SQLSTATE XR409 and a JSON message ({code, message, details}) that the service answers as
409 OUT_OF_STOCK; the whole order rolls back with it.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TAKE_STOCK = """
CREATE FUNCTION xinren_order_takes_stock() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    line record;
    left_over bigint;
BEGIN
    FOR line IN
        SELECT item->>'sku_id' AS sku_id, sum((item->>'quantity')::bigint) AS quantity
        FROM jsonb_array_elements(NEW.items) AS item
        GROUP BY 1
        ORDER BY 1
    LOOP
        UPDATE product SET stock_available = stock_available - line.quantity
        WHERE sku_id = line.sku_id AND stock_available >= line.quantity;
        IF NOT FOUND THEN
            SELECT stock_available INTO left_over FROM product WHERE sku_id = line.sku_id;
            RAISE EXCEPTION USING
                ERRCODE = 'XR409',
                MESSAGE = json_build_object(
                    'code', 'OUT_OF_STOCK',
                    'message', 'not enough stock of ' || line.sku_id,
                    'details', json_build_object(
                        'sku_id', line.sku_id, 'requested', line.quantity, 'available', coalesce(left_over, 0)
                    )
                )::text;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(TAKE_STOCK)
    op.execute(
        "CREATE CONSTRAINT TRIGGER sales_order_takes_stock AFTER INSERT ON sales_order "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION xinren_order_takes_stock()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER sales_order_takes_stock ON sales_order")
    op.execute("DROP FUNCTION xinren_order_takes_stock()")
