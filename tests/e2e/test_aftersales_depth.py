"""After-sales depth over HTTP across the services: per-line returns with restock, exchange, reship, a counter-offer,
escalation after the window, and the order screen's merged timeline. Needs in the stack's environment:
XINREN_REFUND_ESCALATION_WINDOW_SECONDS=3 (the escalation scenario waits it out)."""

from .platform import ADDRESS, rid

PRICE = 20_000  # ¥200 a line


async def _two_line_order(p, shop, buyer, skus: list[str]) -> dict:
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": s, "quantity": 1} for s in skus], "shipping_address": ADDRESS}
    order = await p.call(
        "order", "POST", "/v1/orders", {**buyer, "Idempotency-Key": rid("idem")}, json=body, expect=201
    )
    await p.pay(buyer, order)
    await p.ship(shop, order["order_id"])
    await p.deliver(order["order_id"])
    await p.refund_sees_delivery(buyer, order["order_id"])
    return order


async def _stock(p, sku: str) -> int:
    return (await p.call("order", "GET", f"/v1/products/{sku}", p.admin))["stock_available"]


async def _ledger_clean(p) -> None:
    assert (await p.call("order", "GET", "/v1/ledger/check", p.admin))["ok"] is True


async def _open(p, buyer, order_id: str, type_: str, reason: str, **extra) -> dict:
    body = {"order_id": order_id, "type": type_, "reason": reason, **extra}
    return await p.call(
        "refund", "POST", "/v1/after-sales", {**buyer, "Idempotency-Key": rid("idem")}, json=body, expect=201
    )


def got_certificate(order: dict) -> str:
    return order["qc"]["certificate_no"]


async def _returned(p, shop, buyer, case: dict) -> None:
    cid = case["case_id"]
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/approve", shop.seller, json={"reason": "ok"})
    ship = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/return-shipment", buyer, json=ship)
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/return-received", shop.seller)


async def test_a_partial_return_of_one_of_two_lines_restocks_one_unit_and_refunds_one_line(platform):
    p = platform
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    a, b = await p.product(shop, "tea", PRICE), await p.product(shop, "tea", PRICE)
    buyer = p.buyer()
    order = await _two_line_order(p, shop, buyer, [a, b])
    before = await _stock(p, a)
    case = await _open(
        p, buyer, order["order_id"], "RETURN_AND_REFUND", "NO_REASON_7D", items=[{"sku_id": a, "quantity": 1}]
    )
    assert case["amount_fen"] == PRICE and [i["sku_id"] for i in case["items"]] == [a]
    await _returned(p, shop, buyer, case)
    await p.wait_case(case["case_id"], "REFUNDED")

    async def restocked():
        return await _stock(p, a) == before + 1 or None

    await p.s.until(restocked, what="one unit of the returned line back in stock")
    assert await _stock(p, b) == before  # the other line untouched
    got = await p.get_order(order["order_id"])
    assert got["refunded_fen"] == PRICE
    await _ledger_clean(p)


async def test_an_exchange_ships_a_replacement_and_moves_no_money(platform):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "tea", PRICE)
    buyer = p.buyer()
    order = await _two_line_order(p, shop, buyer, [sku])
    case = await _open(p, buyer, order["order_id"], "EXCHANGE", "QUALITY_ISSUE")
    assert case["amount_fen"] == 0
    await _returned(p, shop, buyer, case)
    waiting = await p.wait_case(case["case_id"], "AWAITING_REPLACEMENT")
    assert waiting["due_at"] is not None and waiting["next_actor"] == "SELLER"
    parcel = {"carrier": "SF", "tracking_no": rid("SF")}
    cid = case["case_id"]
    shipped = await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-shipment", shop.seller, json=parcel)
    assert shipped["status"] == "REPLACEMENT_SHIPPED" and shipped["replacement_shipment"] == parcel
    done = await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-received", buyer)
    assert done["status"] == "COMPLETED" and done["refund_id"] is None
    got = await p.get_order(order["order_id"])
    assert got["refunded_fen"] == 0
    await _ledger_clean(p)


async def test_a_reship_closes_on_the_carriers_delivery_report(platform, stack):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "tea", PRICE)
    buyer = p.buyer()
    order = await _two_line_order(p, shop, buyer, [sku])
    before = await _stock(p, sku)
    case = await _open(p, buyer, order["order_id"], "RESHIP", "MISSING_PARTS")
    cid = case["case_id"]
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/approve", shop.seller, json={"reason": "sending again"})

    async def reserved():
        return await _stock(p, sku) == before - 1 or None

    await p.s.until(reserved, what="stock reserved for the reship")
    parcel = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-shipment", shop.seller, json=parcel)
    carrier = stack.token("partner", rid("sf"), carriers=["SF"])
    done = await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-received", carrier)
    assert done["status"] == "COMPLETED"
    await _ledger_clean(p)


async def test_a_counter_offer_accepted_refunds_the_offered_amount(platform):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "tea", PRICE)
    buyer = p.buyer()
    order = await _two_line_order(p, shop, buyer, [sku])
    case = await _open(p, buyer, order["order_id"], "RETURN_AND_REFUND", "NOT_AS_DESCRIBED")
    cid = case["case_id"]
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/messages", buyer, json={"text": "颜色不对"}, expect=201)
    offer = {"amount_fen": 5_000, "type": "REFUND_ONLY", "reason": "keep it with ¥50 back"}
    offered = await p.call("refund", "POST", f"/v1/after-sales/{cid}/offer", shop.seller, json=offer)
    assert offered["status"] == "OFFERED" and offered["offer"]["amount_fen"] == 5_000
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/offer/accept", buyer)
    refunded = await p.wait_case(cid, "REFUNDED")
    assert refunded["refunded_fen"] == 5_000 and refunded["type"] == "REFUND_ONLY"
    messages = await p.call("refund", "GET", f"/v1/after-sales/{cid}/messages", shop.seller)
    assert [m["author"] for m in messages["items"]] == ["BUYER"]
    await _ledger_clean(p)


async def test_escalation_after_the_window_is_refused(platform):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "tea", PRICE)
    buyer = p.buyer()
    order = await _two_line_order(p, shop, buyer, [sku])
    case = await _open(p, buyer, order["order_id"], "REFUND_ONLY", "QUALITY_ISSUE")
    cid = case["case_id"]
    rejected = await p.call("refund", "POST", f"/v1/after-sales/{cid}/reject", shop.seller, json={"reason": "no"})
    due = rejected["escalation_due_at"]
    assert due is not None
    await p.wait_case(cid, "CLOSED")  # the window's timer closes it
    r = await p.call("refund", "POST", f"/v1/after-sales/{cid}/escalate", buyer, json={"reason": "late"}, expect=409)
    assert r["error"]["code"] == "ESCALATION_WINDOW_CLOSED"
    await _ledger_clean(p)


async def test_a_certified_exchange_replacement_goes_through_the_warehouse_and_the_order_screen_shows_it(platform):
    """先验后发 for an exchange: the QC product's replacement is shipped by the seller to the warehouse, inspected,
    passed with a certificate of its own, shipped on by the warehouse, delivered; the order screen merges the order,
    its QC, the case and the replacement's inspection in time order, and the ledger stays clean."""
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", 600_000)
    buyer = p.buyer()
    order, qc_case = await p.jade_order_at_warehouse(buyer, shop, sku)
    order_id = order["order_id"]
    await p.verdict(qc_case, "PASSED")
    await p.wait_order(order_id, "QC_PASSED")
    dispatch = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call(
        "qc", "POST", f"/v1/qc/cases/{qc_case['case_id']}/dispatch", p.staff(qc_case["warehouse_id"]), json=dispatch
    )
    await p.wait_order(order_id, "SHIPPED")
    await p.deliver(order_id)
    p.orders[order_id] = "DELIVERED"
    await p.refund_sees_delivery(buyer, order_id)
    case = await _open(p, buyer, order_id, "EXCHANGE", "QUALITY_ISSUE")
    # A certified item comes back through the warehouse, which checks its seal and measurements (not the seller).
    await p.call("refund", "POST", f"/v1/after-sales/{case['case_id']}/approve", shop.seller, json={"reason": "ok"})
    back = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("refund", "POST", f"/v1/after-sales/{case['case_id']}/return-shipment", buyer, json=back)
    certificate = await p.call("qc", "GET", f"/v1/certificates/{got_certificate(await p.get_order(order_id))}", {})

    async def expected():
        c = await p.call("qc", "GET", f"/v1/qc/cases/{qc_case['case_id']}", p.admin)
        return c if any(r["aftersale_case_id"] == case["case_id"] for r in c["returns"]) else None

    await p.s.until(expected, what="the warehouse expecting the return")
    check = {
        "seal_id": certificate["seal_id"],
        "seal_intact": True,
        "measurements": certificate["measurements"],
        "findings": "封签完好 / seal intact",
    }
    await p.call(
        "qc", "POST", f"/v1/qc/cases/{qc_case['case_id']}/return-check", p.staff(qc_case["warehouse_id"]), json=check
    )
    waiting = await p.wait_case(case["case_id"], "AWAITING_REPLACEMENT")
    assert waiting["replacement_via_warehouse"] == "广东省四会市玉器城 8 号"  # where the seller ships it
    parcel = {"carrier": "SF", "tracking_no": rid("SF")}
    cid = case["case_id"]
    sent = await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-shipment", shop.seller, json=parcel)
    assert sent["status"] == "REPLACEMENT_INSPECTING" and sent["next_actor"] == "PLATFORM" and sent["due_at"] is None
    early = await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-received", buyer, expect=409)
    assert early["error"]["code"] == "REPLACEMENT_AT_WAREHOUSE"

    async def inspection():
        page = await p.call("qc", "GET", "/v1/qc/cases", p.admin, params={"order_id": order_id})
        found = [c for c in page["items"] if c["aftersale_case_id"] == cid]
        return found[0] if found else None

    replacement = await p.s.until(inspection, what="the replacement's inspection case")
    assert replacement["warehouse_id"] == qc_case["warehouse_id"] and replacement["status"] == "IN_TRANSIT"
    staff = p.staff(replacement["warehouse_id"])
    arrival = {"tracking_no": parcel["tracking_no"]}
    await p.call("qc", "POST", f"/v1/qc/cases/{replacement['case_id']}/arrival", staff, json=arrival)
    passed = await p.verdict(replacement, "PASSED")
    new_certificate = passed["certificate_no"]
    assert new_certificate and new_certificate != certificate["certificate_no"]

    async def certified():  # the case knows of the pass (replacement_inspected) before the parcel leaves
        c = await p.call("refund", "GET", f"/v1/after-sales/{cid}", p.admin)
        return c if c["replacement_certificate_no"] == new_certificate else None

    await p.s.until(certified, what="the pass recorded on the after-sales case")
    onward = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("qc", "POST", f"/v1/qc/cases/{replacement['case_id']}/dispatch", staff, json=onward)
    shipped = await p.wait_case(cid, "REPLACEMENT_SHIPPED")
    assert shipped["replacement_shipment"] == onward and shipped["replacement_certificate_no"] == new_certificate
    await p.call("refund", "POST", f"/v1/after-sales/{cid}/replacement-received", buyer)
    await p.wait_case(cid, "COMPLETED")
    assert (await p.call("qc", "GET", f"/v1/certificates/{new_certificate}", {}))["status"] == "VALID"

    async def screen():
        got = await p.call("order", "GET", f"/v1/orders/{order_id}", buyer)
        steps = [e.get("event") for e in got["timeline"] if e["source"] == "AFTERSALES"]
        return got if "replacement_delivered" in steps else None

    got = await p.s.until(screen, what="the exchange on the order screen")
    assert got["qc"]["certificate_no"] == certificate["certificate_no"] and got["aftersales"] == [
        {"case_id": cid, "type": "EXCHANGE", "status": "COMPLETED", "due_at": None, "open": False}
    ]
    assert got["status"] == "DELIVERED"  # the replacement's inspection never moves the order
    timeline = got["timeline"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    sources = {e["source"] for e in timeline}
    assert sources == {"ORDER", "QC", "AFTERSALES"}
    steps = [e["event"] for e in timeline if e["source"] == "AFTERSALES"]
    assert steps == [
        "requested",
        "approved",
        "return_shipped",
        "return_received",
        "replacement_shipped",  # by the seller, to the warehouse
        "qc.case_opened",
        "qc.item_received",
        "qc.passed",
        "replacement_inspected",
        "qc.dispatched",
        "replacement_shipped",  # by the warehouse, to the buyer
        "replacement_delivered",
    ]
    assert all(e["case_id"] == cid for e in timeline if e["source"] == "AFTERSALES")
    await _ledger_clean(p)
