"""Orders through the app on the real PostgreSQL and Kafka: the non-QC lifecycle, payment rules, cancellation."""

import pytest

from tests.order.conftest import ADDRESS, admin, buyer, partner, uid


def on_order(order_id, type_):
    return lambda e: e.key == order_id and e.type == type_


async def test_non_qc_order_create_pay_ship_deliver_confirm_releases_escrow_in_three_shares(api, event_collector):
    shop = await api.shop(rights=["SEVEN_DAY_RETURN"], deposit_fen=100_000)
    sku = await api.product(shop, category="snacks", price_fen=12_345, stock=5)
    me, host_id = uid("u"), await api.cooperating_host(shop, commission_bps=1000)

    order = await api.order(shop, sku, me, quantity=3, host_id=host_id)
    oid = order["order_id"]
    assert order["status"] == "CREATED" and order["total_fen"] == 3 * 12_345 and order["paid_fen"] == 0
    assert order["qc_required"] is False and order["warehouse_id"] is None
    assert order["items"][0]["unit_price_fen"] == 12_345 and order["trust_rights"] == ["SEVEN_DAY_RETURN"]
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 2

    paid = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 37_035, "method": "ALIPAY"}, headers=buyer(me)
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "PAID" and paid.json()["paid_fen"] == 37_035
    assert await api.balance(f"escrow:{oid}") == 37_035

    shipment = await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "SF100"}, headers=shop.headers
    )
    assert shipment.status_code == 201, shipment.text
    assert shipment.json()["destination"] == "BUYER" and ADDRESS["line1"] in shipment.json()["address"]

    wrong = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "OTHER"}, headers=partner())
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "TRACKING_MISMATCH"
    delivered = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "SF100"}, headers=partner())
    assert delivered.status_code == 200 and delivered.json()["status"] == "DELIVERED"

    done = await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(me))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "COMPLETED"
    assert [t["status"] for t in body["timeline"]] == ["CREATED", "PAID", "SHIPPED", "DELIVERED", "COMPLETED"]
    assert all(t["at"] and t["actor"] for t in body["timeline"])

    # Escrow hold then release: platform 5% (snacks: default), host 10% (its cooperation), the rest to the seller.
    assert await api.balance(f"escrow:{oid}") == 0
    ledger = (await api.client.get(f"/v1/orders/{oid}/ledger", headers=shop.headers)).json()["items"]
    assert [t["kind"] for t in ledger] == ["PAYMENT", "RELEASE"]
    release = {e["account"]: e["amount_fen"] for e in ledger[1]["entries"]}
    assert release == {
        f"escrow:{oid}": -37_035,
        "platform:commission": 1_851,
        f"host:{host_id}": 3_703,
        f"seller:{shop.shop_id}": 31_481,
    }
    assert sum(v for k, v in release.items() if not k.startswith("escrow")) == 37_035
    assert await api.balance(f"seller:{shop.shop_id}") == 31_481
    assert await api.balance(f"host:{host_id}") == 3_703
    for t in ledger:
        assert sum(e["amount_fen"] for e in t["entries"]) == 0
    await api.ledger_ok()

    # Exactly one event per transition, with the parties filled in.
    for type_ in ("created", "paid", "shipped", "delivered", "completed"):
        [evt] = await event_collector.wait_for(on_order(oid, f"xinren.order.{type_}"))
        assert evt.data["buyer_id"] == me and evt.data["shop_id"] == shop.shop_id
    [completed] = event_collector.envelopes(on_order(oid, "xinren.order.completed"))
    assert (
        completed.data.items()
        >= {"auto": False, "seller_fen": 31_481, "host_fen": 3_703, "platform_fen": 1_851, "host_id": host_id}.items()
    )
    [paid_evt] = event_collector.envelopes(on_order(oid, "xinren.order.paid"))
    assert (
        paid_evt.data["paid_fen"] == 37_035
        and paid_evt.data["category"] == "snacks"
        and paid_evt.data["qc_required"] is False
    )


async def test_prices_come_from_the_catalog_never_from_the_client(api):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=5_000)
    r = await api.client.post(
        "/v1/orders",
        json={
            "shop_id": shop.shop_id,
            "items": [{"sku_id": sku, "quantity": 2, "unit_price_fen": 1}],
            "total_fen": 2,
            "shipping_address": ADDRESS,
        },
        headers=buyer(uid("u")),
    )
    assert r.status_code == 201 and r.json()["total_fen"] == 10_000


async def test_pay_checks_the_amount_and_the_state_and_changes_nothing_when_refused(api):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=10_000)
    me = uid("u")
    oid = (await api.order(shop, sku, me))["order_id"]

    r = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 9_999, "method": "ALIPAY"}, headers=buyer(me)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "AMOUNT_MISMATCH"
    declined = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 10_000, "method": "SANDBOX_DECLINE"}, headers=buyer(me)
    )
    assert declined.status_code == 422 and declined.json()["error"]["code"] == "PAYMENT_DECLINED"
    assert (await api.get(oid))["status"] == "CREATED" and await api.balance(f"escrow:{oid}") == 0

    ok = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 10_000, "method": "WECHAT_PAY"}, headers=buyer(me)
    )
    assert ok.status_code == 200
    again = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 10_000, "method": "WECHAT_PAY"}, headers=buyer(me)
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["current_status"] == "PAID"
    assert await api.balance(f"escrow:{oid}") == 10_000


async def test_payment_is_idempotent_by_key(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=2_500)
    me = uid("u")
    oid = (await api.order(shop, sku, me))["order_id"]
    headers = buyer(me) | {"Idempotency-Key": uid("k")}
    first = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 2_500, "method": "ALIPAY"}, headers=headers
    )
    second = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 2_500, "method": "ALIPAY"}, headers=headers
    )
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second.headers.get("idempotent-replayed") == "true"
    other = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": 2_501, "method": "ALIPAY"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await api.balance(f"escrow:{oid}") == 2_500
    await event_collector.wait_for(on_order(oid, "xinren.order.paid"))
    assert len(event_collector.envelopes(on_order(oid, "xinren.order.paid"))) == 1


async def test_order_creation_is_idempotent_by_key(api):
    shop = await api.shop()
    sku = await api.product(shop, stock=10)
    me = uid("u")
    headers = buyer(me) | {"Idempotency-Key": uid("k")}
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 2}], "shipping_address": ADDRESS}
    a = await api.client.post("/v1/orders", json=body, headers=headers)
    b = await api.client.post("/v1/orders", json=body, headers=headers)
    assert a.status_code == b.status_code == 201 and a.json()["order_id"] == b.json()["order_id"]
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 8


@pytest.mark.parametrize(
    "change,status,code",
    [
        ({"items": []}, 422, "VALIDATION_ERROR"),
        ({"items": [{"sku_id": "x", "quantity": 0}]}, 422, "VALIDATION_ERROR"),
        ({"shipping_address": {"name": "a"}}, 422, "VALIDATION_ERROR"),
        ({"items": [{"sku_id": "sku_missing_zz", "quantity": 1}]}, 422, "UNKNOWN_SKU"),
        ({"shop_id": "shop_missing_zz"}, 422, "UNKNOWN_SHOP"),
    ],
)
async def test_bad_orders_are_refused_with_nothing_changed(api, change, status, code):
    shop = await api.shop()
    sku = await api.product(shop, stock=3)
    me = uid("u")
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS} | change
    r = await api.client.post("/v1/orders", json=body, headers=buyer(me))
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert (await api.client.get("/v1/orders", headers=buyer(me))).json()["items"] == []
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 3


async def test_a_sku_of_another_shop_and_too_much_quantity_are_refused(api):
    shop, other = await api.shop(), await api.shop()
    mine, theirs = await api.product(shop, stock=2), await api.product(other, stock=2)
    me = uid("u")
    body = {
        "shop_id": shop.shop_id,
        "items": [{"sku_id": mine, "quantity": 1}, {"sku_id": theirs, "quantity": 1}],
        "shipping_address": ADDRESS,
    }
    r = await api.client.post("/v1/orders", json=body, headers=buyer(me))
    assert r.status_code == 422 and r.json()["error"]["code"] == "SKU_NOT_IN_SHOP"
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": mine, "quantity": 3}], "shipping_address": ADDRESS}
    r = await api.client.post("/v1/orders", json=body, headers=buyer(me))
    assert r.status_code == 409 and r.json()["error"]["code"] == "OUT_OF_STOCK"
    assert r.json()["error"]["details"] == {"sku_id": mine, "requested": 3, "available": 2}


async def test_cancel_unpaid_releases_stock_and_a_paid_cancel_asks_for_a_refund(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, stock=4)
    me = uid("u")
    unpaid = await api.order(shop, sku, me)
    paid = await api.paid_order(shop, sku, me)
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 2

    r = await api.client.post(
        f"/v1/orders/{unpaid['order_id']}/cancel", json={"reason": "changed my mind"}, headers=buyer(me)
    )
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    r = await api.client.post(
        f"/v1/orders/{paid['order_id']}/cancel", json={"reason": "out of packaging"}, headers=shop.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 4
    # A paid cancellation moves no money by itself: the refund service answers with refund.requested.
    assert await api.balance(f"escrow:{paid['order_id']}") == paid["total_fen"]

    [e1] = await event_collector.wait_for(on_order(unpaid["order_id"], "xinren.order.cancelled"))
    [e2] = await event_collector.wait_for(on_order(paid["order_id"], "xinren.order.cancelled"))
    assert e1.data.items() >= {"by": "buyer", "was_paid": False, "reason": "changed my mind"}.items()
    assert e2.data.items() >= {"by": "seller", "was_paid": True, "buyer_id": me}.items()

    again = await api.client.post(f"/v1/orders/{paid['order_id']}/cancel", json={}, headers=buyer(me))
    assert again.status_code == 409 and again.json()["error"]["details"]["current_status"] == "CANCELLED"
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] == 4


async def test_cancel_after_shipment_and_confirm_before_delivery_are_409(api):
    shop = await api.shop()
    sku = await api.product(shop)
    me = uid("u")
    oid = (await api.paid_order(shop, sku, me))["order_id"]
    early = await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(me))
    assert early.status_code == 409 and early.json()["error"]["details"]["current_status"] == "PAID"
    await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "T1"}, headers=shop.headers
    )
    r = await api.client.post(f"/v1/orders/{oid}/cancel", json={}, headers=buyer(me))
    assert r.status_code == 409 and r.json()["error"]["details"]["current_status"] == "SHIPPED"
    again = await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "T2"}, headers=shop.headers
    )
    assert again.status_code == 409


async def test_list_orders_is_scoped_filtered_and_paginated(api):
    shop = await api.shop()
    sku = await api.product(shop)
    me = uid("u")
    ids = [(await api.order(shop, sku, me))["order_id"] for _ in range(5)]
    await api.client.post(f"/v1/orders/{ids[0]}/cancel", json={}, headers=buyer(me))

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get("/v1/orders", params=params, headers=buyer(me))).json()
        seen += [o["order_id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    cancelled = (await api.client.get("/v1/orders", params={"status": "CANCELLED"}, headers=shop.headers)).json()[
        "items"
    ]
    assert [o["order_id"] for o in cancelled] == [ids[0]]
    assert (await api.client.get("/v1/orders", params={"cursor": "garbage!"}, headers=buyer(me))).json()["error"][
        "code"
    ] == "INVALID_CURSOR"
    assert (await api.client.get("/v1/orders", params={"limit": 201}, headers=buyer(me))).status_code == 422
    by_admin = (
        await api.client.get("/v1/orders", params={"shop_id": shop.shop_id, "limit": 200}, headers=admin())
    ).json()["items"]
    assert {o["order_id"] for o in by_admin} == set(ids)
