"""A QC order driven by the QC service's events (published here to xinren.qc.v1, as that service would)."""

from datetime import UTC, datetime, timedelta

from tests.order.conftest import ADDRESS, buyer, eventually, partner, uid
from xinren_shared.contracts.aftersales import RefundRequested
from xinren_shared.contracts.qc import (
    QcCaseOpened,
    QcDispatched,
    QcExpired,
    QcFailed,
    QcItemReceived,
    QcPassed,
    QcShopSuspended,
)

QC = "/xinren/quality-check"


async def test_qc_order_ships_to_the_warehouse_and_reaches_shipped_only_after_pass_and_dispatch(
    api, publish, event_collector
):
    shop = await api.shop(rights=["FAKE_ONE_PAY_TEN"])
    sku = await api.product(shop, category="jade", price_fen=6_000_000, stock=1)
    me = uid("u")
    order = await api.paid_order(shop, sku, me)
    oid, case_id = order["order_id"], uid("qc")
    assert order["qc_required"] is True and order["status"] == "PAID"
    [paid] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.paid")
    assert (
        paid.data["qc_required"] is True
        and paid.data["category"] == "jade"
        and paid.data["trust_rights"] == ["FAKE_ONE_PAY_TEN"]
    )

    early = await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "SF1"}, headers=shop.headers
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "QC_CASE_NOT_OPEN"
    assert early.json()["error"]["details"]["current_status"] == "PAID"

    ids = {"order_id": oid, "case_id": case_id, "buyer_id": me, "shop_id": shop.shop_id}
    await publish(
        QcCaseOpened(
            **ids,
            warehouse_id="wh_sihui",
            warehouse_address="四会玉器城质检中心",
            inbound_deadline=datetime.now(UTC) + timedelta(days=5),
        ),
        source=QC,
    )
    opened = await api.wait_status(oid, "AWAITING_QC_INBOUND")
    assert opened["warehouse_id"] == "wh_sihui" and opened["warehouse_address"] == "四会玉器城质检中心"
    assert opened["qc"]["case_id"] == case_id and opened["qc"]["status"] == "AWAITING_INBOUND"
    assert opened["qc"]["inbound_deadline"] and opened["qc"]["certificate_no"] is None

    shipped = await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "SF1"}, headers=shop.headers
    )
    assert shipped.status_code == 201, shipped.text
    assert shipped.json()["destination"] == "QC_WAREHOUSE" and shipped.json()["address"] == "四会玉器城质检中心"
    [evt] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.shipped")
    assert evt.data["destination"] == "QC_WAREHOUSE" and evt.data["warehouse_id"] == "wh_sihui"
    in_transit = await api.get(oid)
    assert in_transit["status"] == "IN_TRANSIT_TO_QC" and in_transit["qc"]["status"] == "IN_TRANSIT"
    assert in_transit["auto_confirm_at"] is None  # a parcel to the warehouse starts no clock

    await publish(QcItemReceived(**ids), source=QC)
    await api.wait_status(oid, "IN_QC")
    # A dispatch before the verdict is out of order: ignored, not dead-lettered.
    await publish(QcDispatched(**ids, to="BUYER", carrier="EMS", tracking_no="EMS9"), source=QC)
    await publish(QcPassed(**ids, certificate_no="CERT-1"), source=QC)
    passed = await api.wait_status(oid, "QC_PASSED")
    assert passed["certificate_no"] == "CERT-1"
    assert passed["qc"] | {"inbound_deadline": None} == {
        "case_id": case_id, "status": "PASSED", "certificate_no": "CERT-1", "inbound_deadline": None
    }  # fmt: skip
    assert (
        await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "EMS9"}, headers=partner())
    ).status_code == 409

    await publish(QcDispatched(**ids, to="BUYER", carrier="EMS", tracking_no="EMS10"), source=QC)
    done = await api.wait_status(oid, "SHIPPED")
    assert done["shipment"]["tracking_no"] == "EMS10" and done["qc"]["status"] == "DISPATCHED"
    # The warehouse's dispatch to the buyer starts auto-confirm, as a seller's direct shipment does.
    assert datetime.fromisoformat(done["auto_confirm_at"]) - datetime.fromisoformat(
        done["shipment"]["shipped_at"]
    ) == timedelta(days=10)
    assert [t["status"] for t in done["timeline"]] == [
        "CREATED",
        "PAID",
        "AWAITING_QC_INBOUND",
        "IN_TRANSIT_TO_QC",
        "IN_QC",
        "QC_PASSED",
        "SHIPPED",
    ]
    [to_buyer] = await event_collector.wait_for(
        lambda e: e.key == oid and e.type == "xinren.order.shipped" and e.data["destination"] == "BUYER"
    )
    assert to_buyer.data["tracking_no"] == "EMS10" and to_buyer.data["auto_confirm_at"] == done["auto_confirm_at"]
    # The warehouse's parcel is not the seller's to correct.
    r = await api.client.put(
        f"/v1/orders/{oid}/shipment", json={"carrier": "SF", "tracking_no": "SF9"}, headers=shop.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "SHIPMENT_NOT_CORRECTABLE"
    r = await api.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "EMS10"}, headers=partner())
    assert r.status_code == 200 and r.json()["status"] == "DELIVERED"


async def test_qc_failure_and_expiry_move_the_order_to_qc_failed(api, publish):
    shop = await api.shop()
    sku = await api.product(shop, category="antiques", price_fen=300_000, stock=5)
    failing, expiring = [await api.paid_order(shop, sku, uid("u")) for _ in range(2)]
    for o in (failing, expiring):
        ids = {"order_id": o["order_id"], "case_id": uid("qc")}
        await publish(
            QcCaseOpened(**ids, warehouse_id="wh_bj", warehouse_address="Beijing", inbound_deadline=datetime.now(UTC)),
            source=QC,
        )
        o["ids"] = ids
    await publish(QcItemReceived(**failing["ids"]), source=QC)
    await publish(QcFailed(**failing["ids"], reason="COUNTERFEIT", findings="resin, not jadeite"), source=QC)
    await publish(QcDispatched(**failing["ids"], to="SELLER", carrier="SF", tracking_no="BACK1"), source=QC)
    await publish(QcExpired(**expiring["ids"]), source=QC)
    failed = await api.wait_status(failing["order_id"], "QC_FAILED")
    assert "COUNTERFEIT" in failed["timeline"][-1]["reason"]
    await api.wait_status(expiring["order_id"], "QC_FAILED")
    # The money follows the refund service's refund.requested; until then the escrow holds it.
    assert await api.balance(f"escrow:{failing['order_id']}") == 300_000


async def test_events_about_unknown_orders_are_ignored_and_a_suspended_shop_takes_no_orders(api, publish):
    shop = await api.shop()
    sku = await api.product(shop)
    ghost = uid("ord")
    [ghost_event, _] = await publish(
        QcItemReceived(order_id=ghost, case_id=uid("qc")), QcShopSuspended(shop_id=shop.shop_id, strikes=3), source=QC
    )

    async def suspended() -> bool:
        return (await api.client.get(f"/v1/shops/{shop.shop_id}", headers=buyer("anyone"))).json()[
            "status"
        ] == "SUSPENDED"

    await eventually(suspended, what="shop suspended")
    r = await api.client.post(
        "/v1/orders",
        json={"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS},
        headers=buyer(uid("u")),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "SHOP_SUSPENDED"
    # The event about an order never heard of was handled (its inbox row committed), not retried into the DLQ.
    await eventually(lambda: api.handled(ghost_event.id), what="ghost event handled")


async def test_the_seller_corrects_the_parcel_to_the_warehouse_until_it_arrives(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, category="jade", price_fen=500_000, stock=1)
    order = await api.paid_order(shop, sku, uid("u"))
    oid, case_id = order["order_id"], uid("qc")
    ids = {"order_id": oid, "case_id": case_id}
    deadline = datetime.now(UTC) + timedelta(days=5)
    await publish(
        QcCaseOpened(**ids, warehouse_id="wh_sz", warehouse_address="Shenzhen", inbound_deadline=deadline), source=QC
    )
    await api.wait_status(oid, "AWAITING_QC_INBOUND")
    shipped = await api.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": "TYPO123"}, headers=shop.headers
    )
    assert shipped.status_code == 201

    fixed = await api.client.put(
        f"/v1/orders/{oid}/shipment", json={"carrier": "SF", "tracking_no": "SF777"}, headers=shop.headers
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["destination"] == "QC_WAREHOUSE" and fixed.json()["address"] == "Shenzhen"
    [evt] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.shipment_corrected")
    assert evt.data.items() >= {
        "destination": "QC_WAREHOUSE", "warehouse_id": "wh_sz", "tracking_no": "SF777",
        "previous_tracking_no": "TYPO123",
    }.items()  # fmt: skip

    await publish(QcItemReceived(**ids), source=QC)
    received = await api.wait_status(oid, "IN_QC")
    assert received["qc"]["status"] == "IN_INSPECTION"
    assert datetime.fromisoformat(received["qc"]["inbound_deadline"]) == deadline
    late = await api.client.put(
        f"/v1/orders/{oid}/shipment", json={"carrier": "SF", "tracking_no": "SF888"}, headers=shop.headers
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "SHIPMENT_NOT_CORRECTABLE"
    assert (await api.get(oid))["shipment"]["tracking_no"] == "SF777"


async def test_the_case_status_follows_a_verdict_consumed_after_the_refund_it_caused(api, publish):
    """qc.failed (xinren.qc.v1) and the refund.requested the refund service sends because of it
    (xinren.aftersales.v1) come on two topics: after an outage the refund may be consumed first. The order is then
    REFUNDED straight from IN_QC and the verdict cannot move it; the QC case's status on the order screen still
    follows the verdict and the dispatch back to the seller, once however often they arrive."""
    shop = await api.shop()
    sku = await api.product(shop, category="jade", price_fen=400_000, stock=1)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    ids = {"order_id": oid, "case_id": uid("qc"), "buyer_id": order["buyer_id"], "shop_id": shop.shop_id}
    deadline = datetime.now(UTC) + timedelta(days=5)
    await publish(QcCaseOpened(**ids, warehouse_id="wh_x", warehouse_address="X", inbound_deadline=deadline), source=QC)
    await publish(QcItemReceived(**ids), source=QC)
    await api.wait_status(oid, "IN_QC")

    refund = RefundRequested(
        order_id=oid, case_id=uid("as"), amount_fen=400_000, buyer_id=order["buyer_id"], shop_id=shop.shop_id
    )
    await publish(refund, source="/xinren/refund")
    refunded = await api.wait_status(oid, "REFUNDED")
    assert refunded["qc"]["status"] == "IN_INSPECTION"

    failed = QcFailed(**ids, reason="COUNTERFEIT", findings="resin, not jadeite")
    await publish(failed, source=QC)

    async def qc_status(status: str) -> bool:
        return (await api.get(oid))["qc"]["status"] == status

    await eventually(lambda: qc_status("FAILED"), what="the case's verdict on the refunded order")
    back = QcDispatched(**ids, to="SELLER", carrier="SF", tracking_no="BACK7")
    await publish(failed.model_copy(), back, back.model_copy(), source=QC)  # a redelivery in a new event, too
    await eventually(lambda: qc_status("DISPATCHED"), what="the item's way back to the seller")
    after = await api.get(oid)
    assert after["status"] == "REFUNDED" and after["timeline"] == refunded["timeline"]
    assert await api.balance(f"escrow:{oid}") == 0


async def test_an_item_never_sent_to_the_warehouse_goes_back_on_sale_when_refunded_whichever_event_comes_first(
    api, publish, event_collector
):
    """The seller never sent the item in: QC's expiry moves the order to QC_FAILED and the refund service refunds it
    in full, on another topic. Read in either order, the refund puts the item back on sale, once; an item that was
    sent in and failed stays off."""
    shop = await api.shop()
    sku = await api.product(shop, category="antiques", price_fen=300_000, stock=5)
    expired_first, refunded_first, failed = [await api.paid_order(shop, sku, uid("u")) for _ in range(3)]

    async def stock() -> int:
        return (await api.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"]

    assert await stock() == 2
    for o in (expired_first, refunded_first, failed):
        o["ids"] = {"order_id": o["order_id"], "case_id": uid("qc")}
        opened = dict(warehouse_id="wh_bj", warehouse_address="Beijing", inbound_deadline=datetime.now(UTC))
        await publish(QcCaseOpened(**o["ids"], **opened), source=QC)
        await api.wait_status(o["order_id"], "AWAITING_QC_INBOUND")

    def full_refund(o):
        return RefundRequested(
            order_id=o["order_id"], case_id=uid("as"), amount_fen=o["total_fen"], buyer_id=o["buyer_id"],
            shop_id=o["shop_id"], refund_id=uid("rf"),
        )  # fmt: skip

    await publish(QcExpired(**expired_first["ids"]), source=QC)
    await api.wait_status(expired_first["order_id"], "QC_FAILED")
    await publish(full_refund(expired_first), full_refund(expired_first), source="/xinren/refund")  # and a repeat
    await publish(full_refund(refunded_first), source="/xinren/refund")
    await api.wait_status(refunded_first["order_id"], "REFUNDED")
    await publish(QcExpired(**refunded_first["ids"]), source=QC)
    await api.wait_status(expired_first["order_id"], "REFUNDED")
    assert await stock() == 4  # both items back on sale, once each

    r = await api.client.post(
        f"/v1/orders/{failed['order_id']}/shipments", json={"carrier": "SF", "tracking_no": "SF7"}, headers=shop.headers
    )
    assert r.status_code == 201, r.text
    await publish(QcItemReceived(**failed["ids"]), source=QC)
    await publish(QcFailed(**failed["ids"], reason="COUNTERFEIT", findings="resin"), source=QC)
    await api.wait_status(failed["order_id"], "QC_FAILED")
    await publish(full_refund(failed), source="/xinren/refund")
    await api.wait_status(failed["order_id"], "REFUNDED")
    assert await stock() == 4  # the item sent in and failed is not back on sale
    await api.ledger_ok()
