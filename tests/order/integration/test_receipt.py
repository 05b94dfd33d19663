"""Receiving without a courier scan: confirming from SHIPPED, the auto-confirm clock counted from shipment, a delivery
that may only bring it earlier, the buyer's one extension, and the deadlines the order screen shows."""

from datetime import datetime, timedelta

from tests.order.conftest import admin, buyer, partner, uid
from xinren_shared.contracts.aftersales import AfterSaleClosed, AfterSaleRequested

AS = "/xinren/refund"
DAY = timedelta(days=1)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def on_order(order_id, type_):
    return lambda e: e.key == order_id and e.type == type_


async def ship(api, order: dict, shop, tracking_no: str | None = None, carrier: str = "SF") -> dict:
    r = await api.client.post(
        f"/v1/orders/{order['order_id']}/shipments",
        json={"carrier": carrier, "tracking_no": tracking_no or uid("SF")},
        headers=shop.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def case_event(cls, order: dict, case_id: str, status: str):
    return cls(
        order_id=order["order_id"], case_id=case_id, type="REFUND_ONLY", reason="NOT_RECEIVED",
        amount_fen=order["total_fen"], status=status, buyer_id=order["buyer_id"], shop_id=order["shop_id"],
    )  # fmt: skip


async def test_the_buyer_confirms_receipt_from_shipped_without_a_delivery_scan(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=20_000)
    me = uid("u")
    order = await api.paid_order(shop, sku, me)
    oid = order["order_id"]
    await ship(api, order, shop)

    done = await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(me))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "COMPLETED" and body["auto_confirm_at"] is None
    assert [t["status"] for t in body["timeline"]] == ["CREATED", "PAID", "SHIPPED", "COMPLETED"]
    assert await api.balance(f"escrow:{oid}") == 0
    [evt] = await event_collector.wait_for(on_order(oid, "xinren.order.completed"))
    assert evt.data["auto"] is False and evt.data["seller_fen"] + evt.data["platform_fen"] == 20_000
    await api.ledger_ok()

    # Over: a late delivery scan, a second confirmation and an extension are refused, and change nothing.
    late = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "x"}, headers=admin())
    assert late.status_code == 409
    again = await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(me))
    assert again.status_code == 409 and again.json()["error"]["details"]["current_status"] == "COMPLETED"
    extend = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=buyer(me))
    assert extend.status_code == 409 and extend.json()["error"]["code"] == "NOT_AWAITING_RECEIPT"
    assert (await api.get(oid))["status"] == "COMPLETED"


async def test_deadlines_follow_the_order_from_creation_to_receipt(api, publish, event_collector):
    shop = await api.shop()
    fast_shop = await api.shop(rights=["FAST_SHIPPING"])
    sku, fast_sku = await api.product(shop), await api.product(fast_shop)
    me = uid("u")

    created = await api.order(shop, sku, me)
    oid = created["order_id"]
    assert at(created["pay_by"]) - at(created["created_at"]) == timedelta(minutes=15)
    assert created["ship_by"] is None and created["auto_confirm_at"] is None and created["qc"] is None
    [created_evt] = await event_collector.wait_for(on_order(oid, "xinren.order.created"))
    assert at(created_evt.data["pay_by"]) == at(created["pay_by"])

    paid = await api.client.post(
        f"/v1/orders/{oid}/pay", json={"amount_fen": created["total_fen"], "method": "ALIPAY"}, headers=buyer(me)
    )
    paid = paid.json()
    assert at(paid["ship_by"]) - at(paid["paid_at"]) == timedelta(hours=72)
    [paid_evt] = await event_collector.wait_for(on_order(oid, "xinren.order.paid"))
    assert at(paid_evt.data["ship_by"]) == at(paid["ship_by"])
    promised = await api.paid_order(fast_shop, fast_sku, me)  # FAST_SHIPPING: the shop's 48 h promise
    assert at(promised["ship_by"]) - at(promised["paid_at"]) == timedelta(hours=48)

    # Shipment to the buyer starts auto-confirm: 10 days from shipment, delivery scan or not.
    shipment = await ship(api, paid, shop, "SF-DL-1")
    shipped_at = at(shipment["shipped_at"])
    shipped = await api.get(oid, buyer(me))
    assert at(shipped["auto_confirm_at"]) == shipped_at + 10 * DAY == at(shipment["auto_confirm_at"])
    [shipped_evt] = await event_collector.wait_for(on_order(oid, "xinren.order.shipped"))
    assert at(shipped_evt.data["auto_confirm_at"]) == shipped_at + 10 * DAY

    # A delivery (delivered + 10 days) would be later than the shipment's clock: it never moves it later.
    delivered = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "SF-DL-1"}, headers=partner())
    assert delivered.status_code == 200, delivered.text
    assert at(delivered.json()["auto_confirm_at"]) == shipped_at + 10 * DAY

    # An open after-sales case pauses the clock (no due time to show); its end resumes it with the time left.
    case_id = uid("as")
    await publish(case_event(AfterSaleRequested, paid, case_id, "REQUESTED"), source=AS)
    paused = await api.wait_until(oid, lambda o: o["aftersale_open"], what="case open")
    assert paused["auto_confirm_at"] is None and paused["auto_confirm_paused"] is True
    await publish(case_event(AfterSaleClosed, paid, case_id, "CLOSED"), source=AS)
    resumed = await api.wait_until(oid, lambda o: o["auto_confirm_at"] is not None, what="clock resumed")
    assert resumed["auto_confirm_paused"] is False
    assert shipped_at + 10 * DAY <= at(resumed["auto_confirm_at"]) < shipped_at + 10 * DAY + timedelta(minutes=1)


async def test_the_buyer_extends_receipt_once(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop)
    me = uid("u")
    order = await api.paid_order(shop, sku, me)
    oid = order["order_id"]

    early = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=buyer(me))
    assert early.status_code == 409 and early.json()["error"]["code"] == "NOT_AWAITING_RECEIPT"
    assert early.json()["error"]["details"]["current_status"] == "PAID"
    shipment = await ship(api, order, shop)
    due = at(shipment["auto_confirm_at"])

    for who, status in [(buyer(uid("u")), 404), (shop.headers, 403), (admin(), 403), (partner(), 403)]:
        r = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=who)
        assert r.status_code == status, r.text
    extended = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=buyer(me))
    assert extended.status_code == 200, extended.text
    body = extended.json()
    assert at(body["auto_confirm_at"]) == due + 3 * DAY and body["receipt_extended_at"] and body["status"] == "SHIPPED"
    [evt] = await event_collector.wait_for(on_order(oid, "xinren.order.receipt_extended"))
    assert at(evt.data["auto_confirm_at"]) == due + 3 * DAY and evt.data["buyer_id"] == me

    again = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=buyer(me))
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_EXTENDED"
    assert at((await api.get(oid))["auto_confirm_at"]) == due + 3 * DAY  # the refusal changed nothing

    # Also once after a delivery: the extended clock stays as it was.
    await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": shipment["tracking_no"]}, headers=admin())
    delivered = await api.get(oid)
    assert delivered["status"] == "DELIVERED" and at(delivered["auto_confirm_at"]) == due + 3 * DAY
    refused = await api.client.post(f"/v1/orders/{oid}/extend-receipt", headers=buyer(me))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "ALREADY_EXTENDED"
    assert len(event_collector.envelopes(on_order(oid, "xinren.order.receipt_extended"))) == 1
