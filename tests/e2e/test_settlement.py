"""Settlement end to end: an order completed, refunded in part during its hold, released when the after-sales window
closes, paid out once with a statement whose lines (JSON and CSV alike) sum to the payout; a declined payout returns
its money. Needs short settlement clocks in the stack (XINREN_ORDER_SETTLEMENT_HOLD_SECONDS and friends)."""

from __future__ import annotations

import csv
import io

from .platform import Shop, rid


async def balances(p, shop: Shop) -> dict:
    return await p.call("order", "GET", f"/v1/shops/{shop.shop_id}/balances", shop.seller)


async def completed_order(p, shop: Shop, sku: str, buyer: dict, **extra) -> dict:
    order = await p.order(buyer, shop, sku, **extra)
    await p.pay(buyer, order)
    await p.ship(shop, order["order_id"])
    await p.deliver(order["order_id"])
    done = await p.confirm(buyer, order["order_id"])
    assert done["status"] == "COMPLETED"
    p.orders[order["order_id"]] = "COMPLETED"
    return order


async def available(p, stack, shop: Shop) -> dict:
    async def probe():
        b = await balances(p, shop)
        return b if b["pending_fen"] == 0 and b["available_fen"] > 0 else None

    return await stack.until(probe, timeout=60, what=f"{shop.shop_id}'s hold to end")


async def test_a_partial_refund_during_the_hold_then_one_payout_with_its_statement(platform, stack):
    p = platform
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    host_id = await p.host(shop, commission_bps=1_000)
    sku = await p.product(shop, "apparel", 10_000)
    buyer = p.buyer()
    order = await completed_order(p, shop, sku, buyer, host_id=host_id)
    oid = order["order_id"]
    held = await balances(p, shop)
    assert held["pending_fen"] > 0 and held["available_fen"] == 0

    # Refunded in part during the hold: it comes out of the pending shares.
    await p.refund_sees_delivery(buyer, oid)
    case = await p.after_sale(buyer, oid, "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=4_000)
    await p.call("refund", "POST", f"/v1/after-sales/{case['case_id']}/approve", shop.seller, json={"reason": "同意"})

    async def refunded():
        o = await p.get_order(oid)
        return o if o["refunded_fen"] == 4_000 else None

    await stack.until(refunded, what="the partial refund")
    await p.wait_case(case["case_id"], "REFUNDED")

    released = await available(p, stack, shop)
    run = await p.call("order", "POST", "/v1/payouts/run", p.admin)
    [payout] = [x for x in run["payouts"] if x["party_id"] == shop.shop_id]
    assert payout["status"] == "PAID" and payout["amount_fen"] == released["available_fen"]
    again = await p.call("order", "POST", "/v1/payouts/run", p.admin)
    assert not [x for x in again["payouts"] if x["party_id"] in (shop.shop_id, host_id)]  # nothing paid twice

    url = f"/v1/shops/{shop.shop_id}/statements/{payout['statement_id']}"
    statement = await p.call("order", "GET", url, shop.seller)
    [line] = [x for x in statement["lines"] if x["order_id"] == oid]
    assert line["gross_fen"] == 10_000 and line["refunds_fen"] == 4_000
    assert sum(x["payout_fen"] for x in statement["lines"]) == payout["amount_fen"] == statement["payout_fen"]
    r = await stack.http("order").get(url, headers={**shop.seller, "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["payout_fen"]) for x in rows if x["kind"] != "TOTAL"] == [x["payout_fen"] for x in statement["lines"]]
    assert int(rows[-1]["payout_fen"]) == payout["amount_fen"]

    earnings = await p.call("order", "GET", f"/v1/hosts/{host_id}/earnings", p.admin)
    assert earnings["totals"]["pending_fen"] == 0 and earnings["totals"]["paid_out_fen"] > 0
    check = await p.call("order", "GET", "/v1/ledger/check", p.admin)
    assert check["ok"], check["violations"]


async def test_a_declined_payout_returns_the_money(platform, stack):
    p = platform
    shop_id = f"{rid('shop')}_decline"  # the sandbox provider declines payees whose id ends in _decline
    await p.call("order", "POST", "/v1/shops", p.admin, json={"shop_id": shop_id, "name": "退款店", "trust_rights": []})
    shop = Shop(shop_id, stack.token("seller", rid("seller"), shop_id=shop_id))
    sku = await p.product(shop, "apparel", 10_000)
    await completed_order(p, shop, sku, p.buyer())
    released = await available(p, stack, shop)
    run = await p.call("order", "POST", "/v1/payouts/run", p.admin)
    [payout] = [x for x in run["payouts"] if x["party_id"] == shop_id]
    assert payout["status"] == "FAILED"
    after = await balances(p, shop)
    assert after["available_fen"] == released["available_fen"] and after["paid_out_fen"] == 0
    check = await p.call("order", "GET", "/v1/ledger/check", p.admin)
    assert check["ok"], check["violations"]
