"""After every scenario: the ledger holds all its invariants and every order is where its scenario left it.

Named to run last in the e2e session."""

FINAL = {"COMPLETED", "REFUNDED", "CANCELLED"}


async def test_ledger_is_clean_and_orders_are_final_or_expected(platform, stack):
    p = platform
    assert p.orders, "the scenarios ran no order"
    check = await p.call("order", "GET", "/v1/ledger/check", p.admin)
    assert check["ok"] is True and check["violations"] == [], check
    assert check["transactions"] > len(p.orders)

    for order_id, left_in in p.orders.items():
        order = await p.get_order(order_id)
        if left_in == "CREATED":
            assert order["status"] in ("CREATED", "CANCELLED"), order
        else:
            assert order["status"] == left_in, (order_id, order["status"], left_in)
        if order["status"] in FINAL:
            assert await p.balance(f"escrow:{order_id}") == 0
        assert order["refunded_fen"] <= order["paid_fen"]
