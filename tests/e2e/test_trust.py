"""The trust service across the platform, over HTTP only: a shop's band taking FAST_REFUND away at the refund
service, the counterfeit ladder with the trust service's reinstatement, and an overturned fine given back."""

from __future__ import annotations

import re

from .platform import ADDRESS, Platform, Shop, rid

JADE_PRICE = 100_000
COUNTERFEIT_FINE = 200_000  # the trust service's default second step for counterfeits
HANDLED = re.compile(r"^xinren_events_consumed_total\{([^}]*)\} ([0-9.e+]+)$", re.M)


async def score_changes_handled_by_refund(p: Platform) -> float:
    text = (await p.s.http("refund").get("/metrics")).text
    return sum(
        float(value)
        for labels, value in HANDLED.findall(text)
        if 'type="xinren.trust.score_changed"' in labels and 'outcome="handled"' in labels
    )


async def trust_of(p: Platform, shop: Shop) -> dict:
    return await p.call("trust", "GET", f"/v1/trust/shops/{shop.shop_id}", shop.seller)


async def test_a_shop_that_ships_late_and_loses_arbitrations_loses_fast_refund(platform, stack):
    p = platform
    handled_before = await score_changes_handled_by_refund(p)
    shop = await p.shop(["FAST_SHIPPING", "FAST_REFUND"])
    sku = await p.product(shop, "apparel", 40_000)
    buyers = [p.buyer() for _ in range(5)]

    # Five FAST_SHIPPING orders, all shipped after their promise (5 shipments: the on-time rate counts).
    orders = [await p.order(b, shop, sku) for b in buyers]
    for buyer, order in zip(buyers, orders, strict=True):
        await p.pay(buyer, order)
    for order in orders:
        await p.wait_compensation(order["order_id"], "LATE_SHIPMENT", timeout=45)
    for buyer, order in zip(buyers, orders, strict=True):
        await p.ship(shop, order["order_id"])
        await p.wait_order(order["order_id"], "SHIPPED")
        await p.deliver(order["order_id"])
        p.orders[order["order_id"]] = "DELIVERED"
        await p.refund_sees_delivery(buyer, order["order_id"])

    # Two after-sales cases the seller rejects and loses in arbitration (amounts above the fast-refund threshold).
    for buyer, order in list(zip(buyers, orders, strict=True))[:2]:
        case = await p.after_sale(buyer, order["order_id"], "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=25_000)
        assert case["status"] == "REQUESTED", case
        cid = case["case_id"]
        await p.call("refund", "POST", f"/v1/after-sales/{cid}/reject", shop.seller, json={"reason": "无质量问题"})
        await p.call("refund", "POST", f"/v1/after-sales/{cid}/escalate", buyer, json={})
        await p.wait_case(cid, "ARBITRATION")
        decision = {"decision": "REFUND", "reason": "平台介入：支持买家"}
        await p.call("refund", "POST", f"/v1/after-sales/{cid}/arbitrate", p.admin, json=decision)
        await p.wait_case(cid, "REFUNDED")

    async def dropped() -> dict | None:
        t = await trust_of(p, shop)
        ind = {i["name"]: i["value"] for i in t["indicators"]}
        return t if ind.get("arbitration_losses") == 2 and ind.get("on_time_shipment_rate") == 0 else None

    score = await stack.until(dropped, what="the late shipments and lost arbitrations in the shop's score")
    assert score["band"] != "EXCELLENT" and score["score"] < 4.5 and "FAST_REFUND" not in score["rights"], score
    assert {a["violation"] for a in score["actions"]} >= {"FALSE_PROMISE", "ARBITRATION_LOST"}

    # The refund service has the band once it handled every band change the shop's seller was told of.
    async def refund_has_the_band() -> bool | None:
        notes = await p.call("notify", "GET", "/v1/notifications", shop.seller, params={"limit": 200})
        told = [n for n in notes["items"] if n["event_type"] == "xinren.trust.score_changed"]
        if not told or not any(n["body_en"].endswith(f"to {score['band']}.") for n in told):
            return None
        return await score_changes_handled_by_refund(p) >= handled_before + len(told) or None

    await stack.until(refund_has_the_band, what="the refund service handling the shop's band change")

    # The buyer's order screen shows the shop's band as the trust service published it, and its shop read too.
    async def order_shows_the_band() -> dict | None:
        seen = await p.call("order", "GET", f"/v1/orders/{orders[2]['order_id']}", buyers[2])
        band = (await trust_of(p, shop))["band"]
        return seen if seen["trust"]["shop"]["band"] == band else None

    seen = await stack.until(order_shows_the_band, what="the order service showing the shop's band on the order")
    assert seen["trust"]["shop"]["band"] != "EXCELLENT" and seen["trust"]["shop"]["score"] is not None, seen
    assert [i["sku_id"] for i in seen["trust"]["items"]] == [sku], seen
    shop_read = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}", buyers[2])
    assert shop_read["trust_band"] == seen["trust"]["shop"]["band"], shop_read

    # The next small request, which FAST_REFUND would have paid at once, waits for the seller's review.
    buyer, order = buyers[2], orders[2]
    case = await p.after_sale(buyer, order["order_id"], "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=1_000)
    assert case["status"] == "REQUESTED" and "FAST_REFUND" not in case["rules_applied"], case
    assert (await p.get_order(order["order_id"]))["refunded_fen"] == 0


async def counterfeit(p: Platform, shop: Shop, sku: str) -> str:
    buyer = p.buyer()
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    await p.verdict(case, "FAILED", "COUNTERFEIT")
    await p.wait_order(order["order_id"], "REFUNDED")
    return order["order_id"]


async def test_counterfeits_climb_the_ladder_reinstatement_and_an_overturned_fine(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", JADE_PRICE)

    async def shop_status(status: str) -> dict | None:
        s = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}", p.admin)
        return s if s["status"] == status else None

    async def actions(n: int) -> list[dict] | None:
        page = await p.call("trust", "GET", "/v1/trust/actions", shop.seller)
        return page["items"] if len(page["items"]) >= n else None

    # One step per counterfeit, in the ladder's order: a warning, a fine, a suspension.
    orders = []
    for n, kind in enumerate(("WARNING", "FINE", "SUSPENSION"), start=1):
        orders.append(await counterfeit(p, shop, sku))
        taken = await stack.until(lambda n=n: actions(n), what=f"the trust service's action #{n}")
        assert (taken[0]["kind"], taken[0]["violation"], taken[0]["step"]) == (kind, "COUNTERFEIT", n), taken
    fine = taken[1]
    assert fine["fine_fen"] == COUNTERFEIT_FINE
    await stack.until(lambda: shop_status("SUSPENDED"), what="the shop suspended after three counterfeits")
    r = await stack.http("order").post("/v1/orders", headers=p.buyer(), json={
        "shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS,
    })  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "SHOP_SUSPENDED"

    # The order service's own reinstatement points to the trust service's, which lifts the suspension.
    r = await stack.http("order").post(f"/v1/shops/{shop.shop_id}/reinstate", headers=p.admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "REINSTATE_VIA_TRUST", r.text
    reinstated = await p.call("trust", "POST", f"/v1/trust/shops/{shop.shop_id}/reinstate", p.admin)
    assert reinstated == {"shop_id": shop.shop_id, "status": "ACTIVE"}
    await stack.until(lambda: shop_status("ACTIVE"), what="the shop reinstated at the order service")

    # It keeps its history: the fourth counterfeit suspends it again.
    orders.append(await counterfeit(p, shop, sku))
    taken = await stack.until(lambda: actions(4), what="the trust service's action #4")
    assert (taken[0]["kind"], taken[0]["step"]) == ("SUSPENSION", 4) and taken[1]["status"] == "LIFTED", taken
    await stack.until(lambda: shop_status("SUSPENDED"), what="the shop suspended again")

    # The fine is appealed and overturned: given back to the deposit once; the ledger stays clean.
    for order_id in orders:
        await p.wait_compensation(order_id, "COUNTERFEIT")
    deposit = f"deposit:{shop.shop_id}"
    before = await p.balance(deposit)
    appeal = await p.call(
        "trust", "POST", "/v1/trust/appeals", {**shop.seller, "Idempotency-Key": rid("idem")},
        json={"action_id": fine["action_id"], "reason": "鉴定有误"}, expect=201,
    )  # fmt: skip
    decided = await p.call(
        "trust", "POST", f"/v1/trust/appeals/{appeal['appeal_id']}/decide", p.admin,
        json={"decision": "OVERTURN", "reason": "复检为真品"},
    )  # fmt: skip
    assert decided["status"] == "OVERTURNED" and decided["action"]["status"] == "OVERTURNED", decided

    async def given_back() -> int | None:
        balance = await p.balance(deposit)
        return balance if balance == before + COUNTERFEIT_FINE else None

    await stack.until(given_back, what="the overturned fine given back to the deposit")
    assert (await p.call("trust", "GET", f"/v1/trust/shops/{shop.shop_id}", p.admin))["status"] == "SUSPENDED"
    check = await p.call("order", "GET", "/v1/ledger/check", p.admin)
    assert check["ok"] is True and check["violations"] == [], check
