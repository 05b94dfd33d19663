"""The trust rules where they cross services: a QC pass protects the seller, a wrong tracking number can be
corrected, addresses reach the warehouse and the returning buyer, a refund can be asked for right after paying,
partners act only for what they serve, deadlines show, and errors speak the caller's language."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from .platform import ADDRESS, rid

JADE_PRICE = 600_000


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


RETURN_ADDRESS = {
    "name": "林氏翡翠售后",
    "phone": "0758-2288123",
    "province": "广东省",
    "city": "肇庆市",
    "district": "四会市",
    "line1": f"玉器街 {rid('no')} 号",
}


async def test_a_counterfeit_claim_on_a_certified_item_is_the_platforms_and_spares_the_seller(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["FAKE_ONE_PAY_TEN", "SEVEN_DAY_RETURN"], deposit_fen=50_000_000)
    sku = await p.product(shop, "jade", JADE_PRICE)
    buyer = p.buyer()
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    order_id = order["order_id"]
    certificate_no = (await p.verdict(case, "PASSED"))["certificate_no"]
    await p.wait_order(order_id, "QC_PASSED")
    dispatch = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/dispatch", p.staff(case["warehouse_id"]), json=dispatch)
    await p.wait_order(order_id, "SHIPPED")
    await p.deliver(order_id)
    await p.refund_sees_delivery(buyer, order_id)
    deposit_before = await p.balance(f"deposit:{shop.shop_id}")
    guarantee_before = await p.balance("platform:guarantee")

    async def certified() -> dict | None:
        claim = await stack.http("refund").get(
            "/v1/after-sales/eligibility", params={"order_id": order_id}, headers=buyer
        )
        return claim.json() if claim.status_code == 200 and claim.json().get("certificate_no") else None

    # The refund service learns of the certificate from qc.passed; the claim is then the platform's to decide.
    await stack.until(certified, what="the refund service knowing the certificate", timeout=30)
    claim = await p.after_sale(buyer, order_id, "REFUND_ONLY", "COUNTERFEIT")
    assert claim["status"] == "ARBITRATION" and claim["certificate_no"] == certificate_no
    refused = await stack.http("refund").post(
        f"/v1/after-sales/{claim['case_id']}/approve", headers=shop.seller, json={"reason": "同意"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "PLATFORM_CASE"
    await p.call(
        "refund",
        "POST",
        f"/v1/after-sales/{claim['case_id']}/arbitrate",
        p.admin,
        json={"decision": "REFUND", "reason": "鉴定为仿品 / found counterfeit"},
    )
    await p.wait_case(claim["case_id"], "REFUNDED")
    await p.wait_order(order_id, "REFUNDED")
    compensation = await p.wait_compensation(order_id, "COUNTERFEIT")
    assert compensation["payer"] == "PLATFORM_GUARANTEE" and compensation["amount_fen"] == 10 * JADE_PRICE

    # The warehouse's guarantee paid, never the seller's deposit; the certificate no longer vouches for the item;
    # the error is the inspector's, not a strike on the shop.
    assert await p.balance(f"deposit:{shop.shop_id}") == deposit_before
    assert await p.balance("platform:guarantee") == guarantee_before - 10 * JADE_PRICE

    async def revoked() -> dict | None:
        r = await stack.http("qc").get(f"/v1/certificates/{certificate_no.lower()}")
        return r.json() if r.status_code == 200 and r.json()["status"] == "REVOKED" else None

    await stack.until(revoked, what="the certificate revoked")
    strikes = await p.call("qc", "GET", f"/v1/shops/{shop.shop_id}/strikes", p.admin)
    assert strikes["active_strikes"] == 0 and strikes["strikes"] == []
    errors = await p.call("qc", "GET", f"/v1/warehouses/{case['warehouse_id']}/inspection-errors", p.admin)
    assert [e["order_id"] for e in errors["items"]] == [order_id]
    assert (await p.call("order", "GET", "/v1/ledger/check", p.admin))["ok"] is True


async def test_a_wrong_tracking_number_is_corrected_before_the_warehouse_and_the_buyer_receive(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", JADE_PRICE)
    plain = await p.product(shop, "apparel", 9_900)
    buyer = p.buyer()

    # To the QC warehouse: the typo is corrected, the warehouse takes the real parcel and refuses the typo.
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    await p.wait_order(order["order_id"], "AWAITING_QC_INBOUND")
    typo = await p.call(
        "order",
        "POST",
        f"/v1/orders/{order['order_id']}/shipments",
        shop.seller,
        json={"carrier": "SF", "tracking_no": "TYPO123"},
        expect=201,
    )
    assert typo["destination"] == "QC_WAREHOUSE"
    real = rid("SF")
    await p.call(
        "order",
        "PUT",
        f"/v1/orders/{order['order_id']}/shipment",
        shop.seller,
        json={"carrier": "SF", "tracking_no": real},
    )
    case = await p.qc_case(order["order_id"])
    staff = p.staff(case["warehouse_id"])

    async def arrival_of(number: str):
        return await stack.http("qc").post(
            f"/v1/qc/cases/{case['case_id']}/arrival", headers=staff, json={"tracking_no": number}
        )

    async def expects_the_correction():  # the warehouse has heard of the shipment and of its correction
        seen = await p.call("qc", "GET", f"/v1/qc/cases/{case['case_id']}", staff)
        return (seen.get("inbound_shipment") or {}).get("tracking_no") == real or None

    await stack.until(expects_the_correction, what="the warehouse expecting the corrected number")
    typo_arrival = await arrival_of("TYPO123")
    assert typo_arrival.status_code == 409 and typo_arrival.json()["error"]["code"] == "TRACKING_MISMATCH"
    assert (await arrival_of(real)).status_code == 200
    await p.wait_order(order["order_id"], "IN_QC")
    timeline = (await p.get_order(order["order_id"]))["timeline"]
    assert any("TYPO123" in str(entry) and real in str(entry) for entry in timeline), timeline

    # To the buyer: the carrier's delivery of the real number is taken, then the buyer confirms.
    direct = await p.order(buyer, shop, plain)
    await p.pay(buyer, direct)
    await p.call(
        "order",
        "POST",
        f"/v1/orders/{direct['order_id']}/shipments",
        shop.seller,
        json={"carrier": "SF", "tracking_no": "TYPO456"},
        expect=201,
    )
    fixed = await p.call(
        "order",
        "PUT",
        f"/v1/orders/{direct['order_id']}/shipment",
        shop.seller,
        json={"carrier": "SF", "tracking_no": rid("SF")},
    )
    await p.deliver(direct["order_id"])  # reports the number the order now carries
    assert fixed["status"] == "SHIPPED"
    assert (await p.confirm(buyer, direct["order_id"]))["status"] == "COMPLETED"
    p.orders[direct["order_id"]] = "COMPLETED"


async def test_addresses_reach_the_warehouse_and_the_returning_buyer(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    await p.call("order", "PATCH", f"/v1/shops/{shop.shop_id}", shop.seller, json={"return_address": RETURN_ADDRESS})
    sku = await p.product(shop, "jade", JADE_PRICE)
    plain = await p.product(shop, "apparel", 19_900)
    buyer = p.buyer()

    # The warehouse sees where a passed item goes and where a failed one goes back; a failed item goes back there.
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    staff = p.staff(case["warehouse_id"])
    seen = await p.call("qc", "GET", f"/v1/qc/cases/{case['case_id']}", staff)
    assert seen["shipping_address"]["line1"] == ADDRESS["line1"]
    assert seen["return_address"]["line1"] == RETURN_ADDRESS["line1"]
    await p.verdict(case, "FAILED", "NOT_AS_DESCRIBED")
    parcel = {"carrier": "SF", "tracking_no": rid("SF")}

    async def dispatched() -> dict | None:  # once the seller's appeal window has passed, the verdict is final
        r = await stack.http("qc").post(f"/v1/qc/cases/{case['case_id']}/dispatch", headers=staff, json=parcel)
        return r.json() if r.status_code == 200 else None

    sent = await stack.until(dispatched, what="the failed item dispatched back to the seller")
    assert sent["dispatch"]["address"]["line1"] == RETURN_ADDRESS["line1"]
    await p.wait_order(order["order_id"], "REFUNDED")

    # An approved return tells the buyer where to send the goods.
    from .test_trust_scenarios import delivered_order

    order_id = await delivered_order(p, shop, plain, buyer)
    case = await p.after_sale(buyer, order_id, "RETURN_AND_REFUND", "NO_REASON_7D")
    assert case["return_address"] is None
    await p.call(
        "refund", "POST", f"/v1/after-sales/{case['case_id']}/approve", shop.seller, json={"reason": "同意退货"}
    )
    awaiting = await p.wait_case(case["case_id"], "AWAITING_RETURN")
    assert awaiting["return_address"]["line1"] == RETURN_ADDRESS["line1"]
    assert awaiting["due_at"] is not None and awaiting["return_due_at"] == awaiting["due_at"]


async def test_a_refund_asked_for_right_after_paying_is_taken(platform, stack):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 9_900)
    buyer = p.buyer()

    async def pay_then_ask() -> int:
        order = await p.order(buyer, shop, sku)
        await p.pay(buyer, order)
        r = await stack.http("refund").post(
            "/v1/after-sales",
            headers={**buyer, "Idempotency-Key": rid("idem")},
            json={"order_id": order["order_id"], "type": "REFUND_ONLY", "reason": "OTHER", "evidence": []},
        )
        return r.status_code, order["order_id"]

    # No pause between paying and asking: the refund service waits for its view of the order instead of a 404.
    answers = await asyncio.gather(*(pay_then_ask() for _ in range(5)))
    assert [status for status, _ in answers] == [201] * 5
    for _, order_id in answers:  # refunds before shipment are paid without review
        await p.wait_order(order_id, "REFUNDED")


async def test_partners_report_only_their_own_carriers_parcels(platform, stack):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 9_900)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    await p.pay(buyer, order)
    shipment = await p.ship(shop, order["order_id"])  # an SF parcel
    other_carrier = stack.token("partner", rid("yto"), carriers=["YTO"])
    body = {"tracking_no": shipment["tracking_no"], "delivered_at": datetime.now(UTC).isoformat()}
    r = await stack.http("order").post(f"/v1/orders/{order['order_id']}/delivery", headers=other_carrier, json=body)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert (await p.get_order(order["order_id"]))["status"] == "SHIPPED"
    await p.deliver(order["order_id"])  # SF's own partner may
    p.orders[order["order_id"]] = "DELIVERED"


async def test_a_host_is_registered_cooperates_with_the_shop_and_is_never_the_buyer(platform, stack):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 10_000)
    buyer_id = rid("u")
    buyer = stack.token("buyer", buyer_id)
    for host_id, code in ((buyer_id, "HOST_IS_BUYER"), (rid("stranger"), "HOST_NOT_COOPERATING")):
        r = await stack.http("order").post(
            "/v1/orders",
            headers=buyer,
            json={
                "shop_id": shop.shop_id,
                "items": [{"sku_id": sku, "quantity": 1}],
                "shipping_address": ADDRESS,
                "host_id": host_id,
            },
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    host_id = await p.host(shop, commission_bps=800)
    order = await p.order(buyer, shop, sku, host_id=host_id)
    await p.pay(buyer, order)
    await p.ship(shop, order["order_id"])
    await p.deliver(order["order_id"])
    await p.confirm(buyer, order["order_id"])
    p.orders[order["order_id"]] = "COMPLETED"
    assert await p.balance(f"host_pending:{host_id}") == 800  # 8% of 10,000 fen, from the cooperation, held


async def test_deadlines_show_as_the_order_moves(platform, stack):
    p = platform
    shop = await p.shop([])
    sku = await p.product(shop, "apparel", 9_900)
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    created = await p.get_order(order["order_id"])
    assert created["pay_by"] and created["ship_by"] is None and created["auto_confirm_at"] is None
    await p.pay(buyer, order)
    paid = await p.get_order(order["order_id"])
    assert at(paid["ship_by"]) > at(paid["pay_by"])
    await p.ship(shop, order["order_id"])
    shipped = await p.get_order(order["order_id"])
    assert at(shipped["auto_confirm_at"]) > datetime.now(UTC)
    extended = await p.call("order", "POST", f"/v1/orders/{order['order_id']}/extend-receipt", buyer)
    assert at(extended["auto_confirm_at"]) > at(shipped["auto_confirm_at"])
    assert (await p.confirm(buyer, order["order_id"]))["status"] == "COMPLETED"  # no courier scan needed
    p.orders[order["order_id"]] = "COMPLETED"


async def test_errors_speak_the_callers_language_in_every_service(platform, stack):
    p = platform
    buyer = p.buyer()
    for service, path in (
        ("order", "/v1/orders/ord_missing"),
        ("refund", "/v1/after-sales/as_missing"),
        ("qc", "/v1/qc/cases/qc_missing"),
        ("notify", "/v1/webhooks/wh_missing"),
    ):
        token = p.admin if service == "notify" else buyer
        zh = await stack.http(service).get(path, headers=token)
        en = await stack.http(service).get(path, headers={**token, "Accept-Language": "en-US,en;q=0.9"})
        assert zh.status_code == en.status_code == 404, (service, zh.text)
        assert zh.json()["error"]["code"] == en.json()["error"]["code"]
        assert not zh.json()["error"]["message"].isascii() and en.json()["error"]["message"].isascii()
        assert zh.headers["content-language"] == "zh" and en.headers["content-language"] == "en"
