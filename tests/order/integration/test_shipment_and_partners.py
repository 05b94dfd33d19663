"""A wrong tracking number is corrected before delivery; partners report deliveries and read orders only for the
carriers and shops they serve."""

from tests.order.conftest import admin, buyer, partner, seller, uid


def on_order(order_id, type_):
    return lambda e: e.key == order_id and e.type == type_


async def test_a_typo_in_the_tracking_number_is_corrected_and_the_real_parcel_delivered(api, event_collector):
    shop, other = await api.shop(), await api.shop()
    sku = await api.product(shop)
    me = uid("u")
    order = await api.paid_order(shop, sku, me)
    oid, real = order["order_id"], uid("SF")
    c = api.client
    shipped = await c.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "TYPO123"}, headers=shop.headers
    )
    assert shipped.status_code == 201
    # Shipping again is still no way to fix it.
    real_parcel = {"carrier": "SF", "tracking_no": real}
    again = await c.post(f"/v1/orders/{oid}/shipments", json=real_parcel, headers=shop.headers)
    assert again.status_code == 409

    fix = {"carrier": "YTO", "tracking_no": real}
    assert (await c.put(f"/v1/orders/{oid}/shipment", json=fix, headers=seller(other.shop_id))).status_code == 404
    assert (await c.put(f"/v1/orders/{oid}/shipment", json=fix, headers=buyer(me))).status_code == 403
    assert (await c.put(f"/v1/orders/{oid}/shipment", json={"carrier": "YTO"}, headers=shop.headers)).status_code == 422
    corrected = await c.put(f"/v1/orders/{oid}/shipment", json=fix, headers=shop.headers)
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert (body["destination"], body["carrier"], body["tracking_no"]) == ("BUYER", "YTO", real)
    assert body["status"] == "SHIPPED"
    assert body["shipped_at"] == shipped.json()["shipped_at"]  # the parcel left when it left

    view = await api.get(oid, buyer(me))
    assert view["shipment"] | {"shipped_at": None} == {
        "destination": "BUYER", "carrier": "YTO", "tracking_no": real, "shipped_at": None
    }  # fmt: skip
    entry = view["timeline"][-1]
    assert entry["status"] == entry["from_status"] == "SHIPPED" and entry["actor"] == f"seller:u_{shop.shop_id}"
    assert "TYPO123" in entry["reason"] and real in entry["reason"]
    [evt] = await event_collector.wait_for(on_order(oid, "xinren.order.shipment_corrected"))
    assert evt.data.items() >= {
        "destination": "BUYER", "carrier": "YTO", "tracking_no": real, "previous_carrier": "SF",
        "previous_tracking_no": "TYPO123", "buyer_id": me, "shop_id": shop.shop_id,
    }.items()  # fmt: skip

    # The same values again: 200, nothing new on the timeline, no second event.
    same = await c.put(f"/v1/orders/{oid}/shipment", json=fix, headers=shop.headers)
    assert same.status_code == 200 and same.json()["tracking_no"] == real
    assert len((await api.get(oid))["timeline"]) == len(view["timeline"])

    # The old number is not this parcel any more; the real one is, for the new carrier's partner.
    yto = partner("yto_express", carriers=("YTO",))
    old = await c.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "TYPO123"}, headers=yto)
    assert old.status_code == 422 and old.json()["error"]["code"] == "TRACKING_MISMATCH"
    sf = await c.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": real}, headers=partner())
    assert sf.status_code == 404  # SF no longer carries it
    delivered = await c.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": real}, headers=yto)
    assert delivered.status_code == 200 and delivered.json()["status"] == "DELIVERED"

    # Delivered: too late to correct.
    late = await c.put(f"/v1/orders/{oid}/shipment", json={"carrier": "SF", "tracking_no": "X1"}, headers=shop.headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "SHIPMENT_NOT_CORRECTABLE"
    assert late.json()["error"]["details"]["current_status"] == "DELIVERED"
    assert (await api.get(oid))["shipment"]["tracking_no"] == real
    # Events of one order arrive in order: the delivery's event came after any second correction would have.
    await event_collector.wait_for(on_order(oid, "xinren.order.delivered"))
    assert len(event_collector.envelopes(on_order(oid, "xinren.order.shipment_corrected"))) == 1


async def test_nothing_to_correct_before_shipment(api):
    shop = await api.shop()
    sku = await api.product(shop)
    order = await api.paid_order(shop, sku, uid("u"))
    r = await api.client.put(
        f"/v1/orders/{order['order_id']}/shipment", json={"carrier": "SF", "tracking_no": "T1"}, headers=shop.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "SHIPMENT_NOT_CORRECTABLE"
    assert (await api.get(order["order_id"]))["shipment"]["tracking_no"] is None


async def test_partners_deliver_only_their_carriers_or_shops_parcels(api, event_collector):
    shop, other = await api.shop(), await api.shop()
    sku = await api.product(shop, stock=10)
    me = uid("u")
    by_carrier, by_shop = [await api.paid_order(shop, sku, me) for _ in range(2)]
    tracking = {}
    for o in (by_carrier, by_shop):
        tracking[o["order_id"]] = uid("YT")
        r = await api.client.post(
            f"/v1/orders/{o['order_id']}/shipments",
            json={"carrier": "YTO", "tracking_no": tracking[o["order_id"]]},
            headers=shop.headers,
        )
        assert r.status_code == 201

    strangers = [
        partner("sf_express", carriers=("SF",)),  # another carrier
        partner("erp_b", carriers=(), shops=(other.shop_id,)),  # another shop
        partner("nobody", carriers=()),  # no grant at all
    ]
    for o in (by_carrier, by_shop):
        oid = o["order_id"]
        for who in strangers:
            r = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": tracking[oid]}, headers=who)
            assert r.status_code == 404 and r.json()["error"]["code"] == "ORDER_NOT_FOUND", r.text
        unchanged = await api.get(oid)
        assert unchanged["status"] == "SHIPPED" and unchanged["delivered_at"] is None

    yto = partner("yto_express", carriers=("yto",))  # carriers match case-insensitively
    r = await api.client.post(
        f"/v1/orders/{by_carrier['order_id']}/delivery",
        json={"tracking_no": tracking[by_carrier["order_id"]]},
        headers=yto,
    )
    assert r.status_code == 200 and r.json()["status"] == "DELIVERED", r.text
    shop_partner = partner("erp_a", carriers=(), shops=(shop.shop_id,))
    r = await api.client.post(
        f"/v1/orders/{by_shop['order_id']}/delivery",
        json={"tracking_no": tracking[by_shop["order_id"]]},
        headers=shop_partner,
    )
    assert r.status_code == 200 and r.json()["status"] == "DELIVERED", r.text
    for o in (by_carrier, by_shop):
        await event_collector.wait_for(on_order(o["order_id"], "xinren.order.delivered"))
        assert len(event_collector.envelopes(on_order(o["order_id"], "xinren.order.delivered"))) == 1


async def test_partners_read_only_the_orders_of_the_shops_they_are_granted(api):
    shop, other = await api.shop(), await api.shop()
    mine_sku, other_sku = await api.product(shop), await api.product(other)
    me = uid("u")
    mine = await api.order(shop, mine_sku, me)
    theirs = await api.order(other, other_sku, me)
    erp = partner("erp_a", carriers=(), shops=(shop.shop_id,))

    seen = await api.client.get(f"/v1/orders/{mine['order_id']}", headers=erp)
    assert seen.status_code == 200 and seen.json()["shipping_address"] is None  # no buyer's address for partners
    hidden = await api.client.get(f"/v1/orders/{theirs['order_id']}", headers=erp)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "ORDER_NOT_FOUND"
    listed = (await api.client.get("/v1/orders", params={"limit": 200}, headers=erp)).json()["items"]
    assert {o["shop_id"] for o in listed} == {shop.shop_id} and mine["order_id"] in {o["order_id"] for o in listed}
    forced = await api.client.get("/v1/orders", params={"shop_id": other.shop_id}, headers=erp)
    assert forced.json()["items"] == []
    # A carrier's partner reads no order by carrier alone (it only reports deliveries).
    assert (await api.client.get(f"/v1/orders/{mine['order_id']}", headers=partner())).status_code == 404
    assert (await api.client.get(f"/v1/orders/{mine['order_id']}", headers=admin())).status_code == 200
