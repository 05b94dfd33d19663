"""The trust scenarios of the platform, across all four services, over HTTP only."""

from .platform import ADDRESS, rid

JADE_PRICE = 600_000  # ¥6,000


async def test_live_room_jade_order_from_payment_to_release(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["SEVEN_DAY_RETURN", "FAKE_ONE_PAY_TEN"])
    sku = await p.product(shop, "jade", JADE_PRICE)
    buyer = p.buyer()
    host_id = await p.host(shop)
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku, host_id=host_id, live_room_id=rid("room"))
    order_id = order["order_id"]
    assert order["qc_required"] is True and case["status"] == "IN_INSPECTION"

    passed = await p.verdict(case, "PASSED")
    certificate_no = passed["certificate_no"]
    await p.wait_order(order_id, "QC_PASSED")

    # Anyone can verify the certificate, without a token, and it shows nothing private.
    r = await stack.http("qc").get(f"/v1/certificates/{certificate_no}")
    assert r.status_code == 200, r.text
    cert = r.json()
    assert cert["order_id"] == order_id and cert["verdict"] == "PASSED"
    assert ADDRESS["name"] not in r.text and ADDRESS["phone"] not in r.text and buyer["Authorization"] not in r.text

    dispatch = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/dispatch", p.staff(case["warehouse_id"]), json=dispatch)
    shipped = await p.wait_order(order_id, "SHIPPED")
    assert shipped["shipment"]["tracking_no"] == dispatch["tracking_no"]
    await p.deliver(order_id)
    completed = await p.confirm(buyer, order_id)
    assert completed["status"] == "COMPLETED"
    p.orders[order_id] = "COMPLETED"

    # Escrow released: platform, host and seller shares sum to what the buyer paid; the host's and the seller's are
    # held (pending) until the order's after-sales window closes.
    assert await p.balance(f"escrow:{order_id}") == 0
    ledger = await p.call("order", "GET", f"/v1/orders/{order_id}/ledger", p.admin)
    release = [t for t in ledger["items"] if t["kind"] == "RELEASE"]
    assert len(release) == 1
    credits = {e["account"]: e["amount_fen"] for e in release[0]["entries"] if e["amount_fen"] > 0}
    assert set(credits) == {"platform:commission", f"host_pending:{host_id}", f"seller_pending:{shop.shop_id}"}
    assert sum(credits.values()) == JADE_PRICE
    assert await p.balance(f"host_pending:{host_id}") == credits[f"host_pending:{host_id}"] > 0

    # The buyer was told, in Chinese, that the jade passed inspection.
    async def told():
        page = await p.call("notify", "GET", "/v1/notifications", buyer)
        return [n for n in page["items"] if n.get("event_type") == "xinren.qc.passed" and n.get("order_id") == order_id]

    notes = await stack.until(told, what="a qc.passed notification for the buyer")
    assert any("质检" in str(n) for n in notes)


async def counterfeit(p, shop, sku) -> str:
    buyer = p.buyer()
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    await p.verdict(case, "FAILED", "COUNTERFEIT")
    refunded = await p.wait_order(order["order_id"], "REFUNDED")
    assert refunded["refunded_fen"] == refunded["paid_fen"] == JADE_PRICE
    return order["order_id"]


async def test_counterfeit_jade_refunds_compensates_and_climbs_the_trust_ladder(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["FAKE_ONE_PAY_TEN"], deposit_fen=50_000_000)
    sku = await p.product(shop, "jade", JADE_PRICE)
    deposit_before = await p.balance(f"deposit:{shop.shop_id}")

    first = await counterfeit(p, shop, sku)
    compensation = await p.wait_compensation(first, "COUNTERFEIT")
    assert compensation["amount_fen"] == 10 * JADE_PRICE and compensation["payer"] == "SHOP_DEPOSIT"
    assert await p.balance(f"deposit:{shop.shop_id}") == deposit_before - 10 * JADE_PRICE
    strikes = await p.call("qc", "GET", f"/v1/shops/{shop.shop_id}/strikes", p.admin)
    assert strikes["active_strikes"] == 1 and strikes["status"] is None  # the standing is the trust service's

    await counterfeit(p, shop, sku)
    await counterfeit(p, shop, sku)

    async def suspended():
        s = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}", p.admin)
        return s if s["status"] == "SUSPENDED" else None

    await stack.until(suspended, what="the shop suspended by the trust service after three counterfeits")
    # The ladder, one step per counterfeit: a warning, a fine, a suspension (newest first).
    actions = await p.call("trust", "GET", f"/v1/trust/actions?shop_id={shop.shop_id}", p.admin)
    assert [(a["kind"], a["violation"]) for a in actions["items"]] == [
        ("SUSPENSION", "COUNTERFEIT"),
        ("FINE", "COUNTERFEIT"),
        ("WARNING", "COUNTERFEIT"),
    ]
    strikes = await p.call("qc", "GET", f"/v1/shops/{shop.shop_id}/strikes", p.admin)
    assert strikes["active_strikes"] == 3
    new_order = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS}
    r = await stack.http("order").post("/v1/orders", headers=p.buyer(), json=new_order)
    assert r.status_code in (409, 422) and r.json()["error"]["code"] == "SHOP_SUSPENDED"


async def test_seller_who_never_ships_to_the_warehouse(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", JADE_PRICE)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    await p.wait_order(order["order_id"], "AWAITING_QC_INBOUND")
    case = await p.qc_case(order["order_id"])

    refunded = await p.wait_order(order["order_id"], "REFUNDED", timeout=60)
    assert refunded["refunded_fen"] == JADE_PRICE
    case = await p.call("qc", "GET", f"/v1/qc/cases/{case['case_id']}", p.admin)
    assert case["status"] == "EXPIRED"
    strikes = await p.call("qc", "GET", f"/v1/shops/{shop.shop_id}/strikes", p.admin)
    assert strikes["active_strikes"] == 1


async def delivered_order(p, shop, sku, buyer) -> str:
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    await p.ship(shop, order["order_id"])
    await p.wait_order(order["order_id"], "SHIPPED")
    await p.deliver(order["order_id"])
    p.orders[order["order_id"]] = "DELIVERED"
    await p.refund_sees_delivery(buyer, order["order_id"])
    return order["order_id"]


async def test_seven_day_return_with_subsidy_after_completion(platform):
    p = platform
    price = 30_000
    shop = await p.shop(["SEVEN_DAY_RETURN", "RETURN_SHIPPING_SUBSIDY"])
    sku = await p.product(shop, "apparel", price)
    buyer = p.buyer()
    order_id = await delivered_order(p, shop, sku, buyer)
    await p.confirm(buyer, order_id)
    p.orders[order_id] = "COMPLETED"
    seller_before = await p.balance(f"seller_pending:{shop.shop_id}")  # held during the after-sales window
    deposit_before = await p.balance(f"deposit:{shop.shop_id}")
    assert 0 < seller_before < price

    case = await p.after_sale(buyer, order_id, "RETURN_AND_REFUND", "NO_REASON_7D")
    await p.call(
        "refund", "POST", f"/v1/after-sales/{case['case_id']}/approve", shop.seller, json={"reason": "同意退货"}
    )
    await p.wait_case(case["case_id"], "AWAITING_RETURN")
    await p.call(
        "refund",
        "POST",
        f"/v1/after-sales/{case['case_id']}/return-shipment",
        buyer,
        json={"carrier": "YTO", "tracking_no": rid("YT")},
    )
    await p.call("refund", "POST", f"/v1/after-sales/{case['case_id']}/return-received", shop.seller, json={})
    await p.wait_case(case["case_id"], "REFUNDED")
    refunded = await p.wait_order(order_id, "REFUNDED")
    assert refunded["refunded_fen"] == price
    subsidy = await p.wait_compensation(order_id, "RETURN_SHIPPING")
    assert subsidy["payer"] == "PLATFORM"
    # The money came back out of the seller's held share (its share after commission), and the platform gave its
    # commission back: the seller never pays commission on money returned to the buyer, the deposit is untouched.
    assert await p.balance(f"seller_pending:{shop.shop_id}") == 0
    assert await p.balance(f"deposit:{shop.shop_id}") == deposit_before
    ledger = await p.call("order", "GET", f"/v1/orders/{order_id}/ledger", p.admin)
    assert "platform:commission" in str([t for t in ledger["items"] if t["kind"] == "REFUND"]), ledger


async def test_instant_refund_and_refund_without_return(platform):
    p = platform
    shop = await p.shop(["FAST_REFUND", "REFUND_WITHOUT_RETURN"])
    cheap = await p.product(shop, "snacks", 3_000)
    buyer = p.buyer()

    # FAST_REFUND: a small refund for a buyer in good standing is paid before any review.
    order_id = await delivered_order(p, shop, cheap, buyer)
    case = await p.after_sale(buyer, order_id, "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=1_000)
    done = await p.wait_case(case["case_id"], "REFUNDED")
    assert not [t for t in done["timeline"] if t["actor"].startswith("seller")], done["timeline"]
    assert (await p.get_order(order_id))["refunded_fen"] == 1_000

    # REFUND_WITHOUT_RETURN: a low-value return is refunded without sending the goods back.
    other_buyer = p.buyer()
    other = await delivered_order(p, shop, cheap, other_buyer)
    case = await p.after_sale(other_buyer, other, "RETURN_AND_REFUND", "QUALITY_ISSUE")
    done = await p.wait_case(case["case_id"], "REFUNDED")
    assert done["return_shipment"] is None
    assert not [t for t in done["timeline"] if t["status"] in ("AWAITING_RETURN", "RETURN_SHIPPED")], done["timeline"]
    assert (await p.wait_order(other, "REFUNDED"))["refunded_fen"] == 3_000


async def test_a_case_the_seller_ignores_is_approved_automatically(platform):
    p = platform
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    sku = await p.product(shop, "apparel", 25_000)
    buyer = p.buyer()
    order_id = await delivered_order(p, shop, sku, buyer)
    case = await p.after_sale(buyer, order_id, "REFUND_ONLY", "NOT_AS_DESCRIBED", amount_fen=10_000)
    done = await p.wait_case(case["case_id"], "REFUNDED", timeout=45)
    assert any(t["status"] == "APPROVED" for t in done["timeline"])
    assert (await p.get_order(order_id))["refunded_fen"] == 10_000


async def test_a_rejection_escalated_and_arbitrated(platform):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 40_000)
    buyer = p.buyer()
    refund_order = await delivered_order(p, shop, sku, buyer)
    reject_order = await delivered_order(p, shop, sku, buyer)

    outcomes = {}
    for order_id, decision in ((refund_order, "REFUND"), (reject_order, "REJECT")):
        case = await p.after_sale(buyer, order_id, "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=15_000)
        await p.call(
            "refund",
            "POST",
            f"/v1/after-sales/{case['case_id']}/reject",
            shop.seller,
            json={"reason": "商品无质量问题"},
        )
        await p.call("refund", "POST", f"/v1/after-sales/{case['case_id']}/escalate", buyer, json={})
        await p.wait_case(case["case_id"], "ARBITRATION")
        await p.call(
            "refund",
            "POST",
            f"/v1/after-sales/{case['case_id']}/arbitrate",
            p.admin,
            json={"decision": decision, "reason": "平台介入"},
        )
        outcomes[decision] = await p.wait_case(case["case_id"], "REFUNDED" if decision == "REFUND" else "CLOSED")
    assert (await p.get_order(refund_order))["refunded_fen"] == 15_000
    assert (await p.get_order(reject_order))["refunded_fen"] == 0


async def test_a_fast_shipping_shop_that_ships_late_pays_compensation(platform):
    p = platform
    shop = await p.shop(["FAST_SHIPPING"])
    sku = await p.product(shop, "apparel", 12_000)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    compensation = await p.wait_compensation(order["order_id"], "LATE_SHIPMENT", timeout=45)
    assert compensation["payer"] == "SHOP_DEPOSIT" and compensation["amount_fen"] > 0
    await p.ship(shop, order["order_id"])
    await p.wait_order(order["order_id"], "SHIPPED")


async def test_an_unpaid_order_is_cancelled_and_its_stock_released(platform):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 9_900, stock=1)
    order = await p.order(p.buyer(), shop, sku)
    product = await p.call("order", "GET", f"/v1/products/{sku}", p.admin)
    assert product["stock_available"] == 0
    await p.wait_order(order["order_id"], "CANCELLED", timeout=45)
    product = await p.call("order", "GET", f"/v1/products/{sku}", p.admin)
    assert product["stock_available"] == 1
    # The released unit can be bought again.
    await p.order(p.buyer(), shop, sku)
