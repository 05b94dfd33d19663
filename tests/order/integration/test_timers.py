"""Timers with short durations, on their own app instance (own database, own consumer group)."""

from datetime import UTC, datetime, timedelta

import pytest_asyncio
from sqlalchemy import select, update

from tests.order.conftest import Driver, buyer, eventually, order_settings, partner, uid
from xinren_order.app import create_app
from xinren_order.handlers.lifecycle import TIMER_AUTO_CONFIRM
from xinren_order.models import SalesOrder
from xinren_shared.contracts.aftersales import AfterSaleClosed, AfterSaleRequested
from xinren_shared.testing.http import serve

AS = "/xinren/refund"


@pytest_asyncio.fixture(scope="module")
async def fast(make_database, kafka_bootstrap, event_collector):
    settings = order_settings(
        await make_database("order_timers"),
        kafka_bootstrap,
        unpaid_timeout_seconds=1.0,
        auto_confirm_seconds=3.0,
        auto_confirm_after_shipment_seconds=4.0,
        receipt_extension_seconds=3.0,
        fast_shipping_seconds=1.5,
    )
    app = create_app(settings)
    async with serve(app) as client:
        yield Driver(client, app)


def case_event(cls, order: dict, case_id: str, status: str):
    return cls(
        order_id=order["order_id"], case_id=case_id, type="REFUND_ONLY", reason="NOT_RECEIVED",
        amount_fen=order["total_fen"], status=status, buyer_id=order["buyer_id"], shop_id=order["shop_id"],
    )  # fmt: skip


async def test_an_unpaid_order_is_cancelled_by_the_timer_and_its_stock_released(fast, event_collector):
    shop = await fast.shop()
    sku = await fast.product(shop, stock=1)
    order = await fast.order(shop, sku, uid("u"))
    cancelled = await fast.wait_status(order["order_id"], "CANCELLED", timeout=15)
    assert cancelled["timeline"][-1]["actor"] == "system" and cancelled["timeline"][-1]["reason"] == "UNPAID_TIMEOUT"
    assert (await fast.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"] == 1
    [evt] = await event_collector.wait_for(lambda e: e.key == order["order_id"] and e.type == "xinren.order.cancelled")
    assert evt.data.items() >= {"reason": "UNPAID_TIMEOUT", "by": "system", "was_paid": False}.items()
    late = await fast.client.post(
        f"/v1/orders/{order['order_id']}/pay",
        json={"amount_fen": order["total_fen"], "method": "ALIPAY"},
        headers=buyer(order["buyer_id"]),
    )
    assert late.status_code == 409 and late.json()["error"]["details"]["current_status"] == "CANCELLED"


async def test_fast_shipping_shops_that_do_not_ship_in_time_emit_shipping_late(fast, event_collector):
    shop = await fast.shop(rights=["FAST_SHIPPING"])
    sku = await fast.product(shop)
    late = await fast.paid_order(shop, sku, uid("u"))
    on_time = await fast.paid_order(shop, sku, uid("u"))
    r = await fast.client.post(
        f"/v1/orders/{on_time['order_id']}/shipments", json={"carrier": "SF", "tracking_no": "T"}, headers=shop.headers
    )
    assert r.status_code == 201
    [evt] = await event_collector.wait_for(
        lambda e: e.key == late["order_id"] and e.type == "xinren.order.shipping_late", timeout=15
    )
    assert evt.data["buyer_id"] == late["buyer_id"] and evt.data["shop_id"] == shop.shop_id and evt.data["promised_by"]
    assert (await fast.get(late["order_id"]))["shipping_late_at"] is not None
    await fast.wait_until(on_time["order_id"], lambda o: o["status"] == "SHIPPED")
    assert (await fast.get(on_time["order_id"]))["shipping_late_at"] is None
    # Paid after the promise: no second event for the late order.
    assert (
        len(event_collector.envelopes(lambda e: e.key == late["order_id"] and e.type == "xinren.order.shipping_late"))
        == 1
    )


async def test_auto_confirm_fires_after_delivery_and_pauses_while_an_aftersale_case_is_open(
    fast, publish, event_collector
):
    shop = await fast.shop()
    sku = await fast.product(shop, price_fen=10_000)
    before, during, control = [await fast.paid_order(shop, sku, uid("u")) for _ in range(3)]
    case_before, case_during = uid("as"), uid("as")

    # A case opened while the parcel travels pauses the clock the shipment started; the delivery does not restart it.
    await fast.client.post(
        f"/v1/orders/{before['order_id']}/shipments", json={"carrier": "SF", "tracking_no": "B1"}, headers=shop.headers
    )
    await publish(case_event(AfterSaleRequested, before, case_before, "REQUESTED"), source=AS)
    await fast.wait_until(before["order_id"], lambda o: o["aftersale_open"], what="case open")
    await fast.client.post(f"/v1/orders/{before['order_id']}/delivery", json={"tracking_no": "B1"}, headers=partner())
    assert (await fast.get(before["order_id"]))["auto_confirm_paused"] is True
    refused = await fast.client.post(
        f"/v1/orders/{before['order_id']}/confirm-receipt", headers=buyer(before["buyer_id"])
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "AFTERSALE_OPEN"

    # A case opened while auto-confirm runs pauses it.
    await fast.ship_deliver(during, shop)
    await publish(case_event(AfterSaleRequested, during, case_during, "REQUESTED"), source=AS)
    paused = await fast.wait_until(
        during["order_id"], lambda o: o["aftersale_open"] and o["auto_confirm_paused"], what="case open, clock paused"
    )
    assert paused["status"] == "DELIVERED" and paused["auto_confirm_at"] is None

    await fast.ship_deliver(control, shop)
    done = await fast.wait_status(control["order_id"], "COMPLETED", timeout=15)
    assert done["timeline"][-1]["actor"] == "system"
    [evt] = await event_collector.wait_for(
        lambda e: e.key == control["order_id"] and e.type == "xinren.order.completed"
    )
    assert (
        evt.data["auto"] is True and evt.data["seller_fen"] + evt.data["platform_fen"] + evt.data["host_fen"] == 10_000
    )
    # The control was delivered last: the paused orders would have completed before it.
    assert (await fast.get(before["order_id"]))["status"] == "DELIVERED"
    assert (await fast.get(during["order_id"]))["status"] == "DELIVERED"

    # Ending the cases resumes auto-confirm.
    await publish(
        case_event(AfterSaleClosed, before, case_before, "CLOSED"),
        case_event(AfterSaleClosed, during, case_during, "CANCELLED"),
        source=AS,
    )
    for o in (before, during):
        completed = await fast.wait_status(o["order_id"], "COMPLETED", timeout=15)
        assert completed["aftersale_open"] is False and completed["auto_confirm_paused"] is False
    await fast.ledger_ok()


async def test_auto_confirm_counts_from_shipment_without_a_delivery_scan_and_an_extension_delays_it(
    fast, event_collector
):
    shop = await fast.shop()
    sku = await fast.product(shop, price_fen=10_000)
    plain, extended = [await fast.paid_order(shop, sku, uid("u")) for _ in range(2)]
    for o in (plain, extended):
        ship = {"carrier": "SF", "tracking_no": uid("SF")}
        r = await fast.client.post(f"/v1/orders/{o['order_id']}/shipments", json=ship, headers=shop.headers)
        assert r.status_code == 201 and r.json()["auto_confirm_at"], r.text
    r = await fast.client.post(f"/v1/orders/{extended['order_id']}/extend-receipt", headers=buyer(extended["buyer_id"]))
    assert r.status_code == 200, r.text

    # No courier ever scans these parcels: the shipment's clock completes the order all the same.
    done = await fast.wait_status(plain["order_id"], "COMPLETED", timeout=15)
    assert [t["status"] for t in done["timeline"]][-2:] == ["SHIPPED", "COMPLETED"]
    assert done["timeline"][-1]["actor"] == "system" and done["auto_confirm_at"] is None
    [evt] = await event_collector.wait_for(lambda e: e.key == plain["order_id"] and e.type == "xinren.order.completed")
    assert evt.data["auto"] is True
    # Shipped at the same moment, the extended order still has its three extra seconds to run.
    assert (await fast.get(extended["order_id"]))["status"] == "SHIPPED"
    await fast.wait_status(extended["order_id"], "COMPLETED", timeout=15)
    for o in (plain, extended):
        assert await fast.balance(f"escrow:{o['order_id']}") == 0
    await fast.ledger_ok()


async def test_a_delivery_brings_auto_confirm_earlier(fast):
    shop = await fast.shop()
    sku = await fast.product(shop)
    order = await fast.paid_order(shop, sku, uid("u"))
    oid, tracking = order["order_id"], uid("SF")
    shipment = await fast.client.post(
        f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": tracking}, headers=shop.headers
    )
    from_shipment = datetime.fromisoformat(shipment.json()["auto_confirm_at"])
    delivered = await fast.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": tracking}, headers=partner())
    # Delivered at once: delivered + 3 s comes before shipped + 4 s.
    from_delivery = datetime.fromisoformat(delivered.json()["auto_confirm_at"])
    delivered_at = datetime.fromisoformat(delivered.json()["delivered_at"])
    assert from_delivery == delivered_at + timedelta(seconds=3) < from_shipment
    await fast.wait_status(oid, "COMPLETED", timeout=15)


async def test_auto_confirm_due_while_a_case_is_open_completes_once_the_case_ends(fast, publish):
    shop = await fast.shop()
    sku = await fast.product(shop, price_fen=10_000)
    order = await fast.paid_order(shop, sku, uid("u"))
    oid, case_id = order["order_id"], uid("as")
    await fast.ship_deliver(order, shop)
    await publish(case_event(AfterSaleRequested, order, case_id, "REQUESTED"), source=AS)
    await fast.wait_until(oid, lambda o: o["aftersale_open"] and o["auto_confirm_paused"], what="case open, paused")
    # The race the pause can lose: the case event found the clock already claimed by the timer worker, so nothing
    # was paused, and the timer then fires while the case is open.
    runtime = fast.app.state.runtime
    timers = runtime.tables.timer
    async with runtime.transaction() as session:
        await session.execute(
            update(SalesOrder).where(SalesOrder.order_id == oid).values(auto_confirm_remaining_seconds=None)
        )
        await runtime.timers.schedule(session, TIMER_AUTO_CONFIRM, oid, datetime.now(UTC))

    async def fired() -> bool:
        async with runtime.session_factory() as session:
            live = select(timers.c.id).where(
                timers.c.kind == TIMER_AUTO_CONFIRM,
                timers.c.key == oid,
                timers.c.fired_at.is_(None),
                timers.c.cancelled_at.is_(None),
            )
            return (await session.execute(live)).first() is None

    await eventually(fired, what="the auto-confirm timer fired")
    held = await fast.get(oid)
    assert held["status"] == "DELIVERED" and held["auto_confirm_paused"] is True  # nothing completed, nothing lost
    await publish(case_event(AfterSaleClosed, order, case_id, "CLOSED"), source=AS)
    done = await fast.wait_status(oid, "COMPLETED", timeout=15)
    assert done["timeline"][-1]["actor"] == "system"
