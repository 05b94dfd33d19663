"""Refunds and compensation the platform starts itself: QC failure or expiry, paid cancellation, late shipment."""

from xinren_shared.contracts.orders import (
    OrderCancelled,
    OrderCompensationPaid,
    OrderCreated,
    OrderItem,
    OrderPaid,
    OrderShippingLate,
)
from xinren_shared.contracts.qc import QcExpired, QcFailed
from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import (
    ADMIN,
    ORDER_SOURCE,
    QC_SOURCE,
    Order,
    about,
    buyer_headers,
    case_reaches,
    eventually,
    open_case,
    place_order,
    seller_headers,
    uid,
)


def _failed(order, reason="COUNTERFEIT") -> QcFailed:
    return QcFailed(
        order_id=order.order_id,
        case_id=f"qc_{order.order_id}",
        buyer_id=order.buyer_id,
        shop_id=order.shop_id,
        warehouse_id="wh_sihui",
        reason=reason,
        findings="B货: acid-washed, polymer-filled",
    )


async def _cases(refund, order) -> list[dict]:
    r = await refund.client.get("/v1/after-sales", params={"order_id": order.order_id}, headers=ADMIN)
    return r.json()["items"]


async def _compensations(refund, order, headers=ADMIN) -> list[dict]:
    r = await refund.client.get("/v1/compensations", params={"order_id": order.order_id}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_qc_failed_counterfeit_delivered_twice_opens_one_case_and_one_tenfold_compensation(
    refund, publish, event_collector
):
    order = await place_order(
        refund, publish, paid_fen=60_000, rights=[TR.FAKE_ONE_PAY_TEN], shipped=True, qc_required=True
    )
    first, second = await publish(_failed(order), _failed(order), source=QC_SOURCE)  # two deliveries, two event ids
    await eventually(lambda: refund.handled(second.id), what="the second qc.failed handled")

    [case] = await _cases(refund, order)
    assert (case["type"], case["reason"], case["status"], case["amount_fen"], case["origin"]) == (
        "REFUND_ONLY",
        "QC_FAILED",
        "REFUNDING",
        60_000,
        "SYSTEM",
    )
    [cp] = await _compensations(refund, order)
    assert (cp["kind"], cp["payer"], cp["amount_fen"], cp["case_id"]) == (
        "COUNTERFEIT",
        "SHOP_DEPOSIT",
        600_000,
        case["case_id"],
    )
    for type_ in (
        "xinren.aftersale.requested",
        "xinren.aftersale.approved",
        "xinren.refund.requested",
        "xinren.compensation.granted",
    ):
        assert await refund.outbox_count(type_, order.order_id) == 1, type_
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    assert request.data["refund_id"] == f"rf_{case['case_id']}" and request.data["amount_fen"] == 60_000
    [grant] = await event_collector.wait_for(
        about("xinren.compensation.granted", compensation_id=cp["compensation_id"])
    )
    assert grant.data | {"compensation_id": None} == {
        "order_id": order.order_id,
        "compensation_id": None,
        "kind": "COUNTERFEIT",
        "amount_fen": 600_000,
        "payer": "SHOP_DEPOSIT",
        "buyer_id": order.buyer_id,
        "shop_id": order.shop_id,
        "case_id": case["case_id"],
    }

    await publish(
        OrderCompensationPaid(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            compensation_id=cp["compensation_id"],
            kind="COUNTERFEIT",
            amount_fen=600_000,
            payer="SHOP_DEPOSIT",
        ),
        source=ORDER_SOURCE,
    )

    async def paid():
        return [c for c in await _compensations(refund, order, order.buyer) if c["status"] == "PAID"]

    await eventually(paid, what="the compensation PAID")
    detail = (await refund.client.get(f"/v1/after-sales/{case['case_id']}", headers=order.buyer)).json()
    assert detail["compensations"][0]["status"] == "PAID"


async def test_counterfeit_without_the_right_still_pays_three_times_and_at_least_500_yuan(refund, publish):
    small = await place_order(refund, publish, paid_fen=10_000, shipped=True, qc_required=True)
    large = await place_order(refund, publish, paid_fen=30_000, shipped=True, qc_required=True)
    _, last = await publish(_failed(small), _failed(large), source=QC_SOURCE)
    await eventually(lambda: refund.handled(last.id), what="qc.failed handled")
    await eventually(lambda: _compensations(refund, small), what="the small order's compensation")
    assert [c["amount_fen"] for c in await _compensations(refund, small)] == [50_000]
    assert [c["amount_fen"] for c in await _compensations(refund, large)] == [90_000]


async def test_qc_failure_for_another_reason_refunds_without_compensation_and_supersedes_the_buyers_open_case(
    refund, publish
):
    order = await place_order(refund, publish, paid_fen=25_000, shipped=True, qc_required=True)
    own = await open_case(refund, order, reason="NOT_RECEIVED", amount_fen=5_000)
    assert own["status"] == "REQUESTED"
    [evt] = await publish(_failed(order, reason="DAMAGED"), source=QC_SOURCE)
    await eventually(lambda: refund.handled(evt.id), what="qc.failed handled")
    closed = await case_reaches(refund, own["case_id"], "CLOSED")
    assert "superseded" in closed["close_reason"]
    platform = [c for c in await _cases(refund, order) if c["origin"] == "SYSTEM"]
    assert [(c["amount_fen"], c["status"]) for c in platform] == [(25_000, "REFUNDING")]
    assert await _compensations(refund, order) == []


async def test_qc_expiry_refunds_in_full(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=15_000, qc_required=True)
    await publish(
        QcExpired(order_id=order.order_id, case_id=uid("qc"), buyer_id=order.buyer_id, shop_id=order.shop_id),
        source=QC_SOURCE,
    )
    [case] = await eventually(lambda: _cases(refund, order), what="the platform's case")
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    assert request.data["amount_fen"] == 15_000
    assert (case["reason"], case["status"]) == ("QC_EXPIRED", "REFUNDING")
    assert await _compensations(refund, order) == []


async def test_a_paid_order_cancelled_before_shipment_is_refunded_at_once(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=7_700)
    unpaid = await place_order(refund, publish, paid_fen=3_000)
    events = await publish(
        OrderCancelled(
            order_id=unpaid.order_id,
            buyer_id=unpaid.buyer_id,
            shop_id=unpaid.shop_id,
            reason="UNPAID_TIMEOUT",
            by="system",
            was_paid=False,
        ),
        OrderCancelled(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            reason="买家取消",
            by="buyer",
            was_paid=True,
        ),
        source=ORDER_SOURCE,
    )
    [case] = await eventually(lambda: _cases(refund, order), what="the platform's case")
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    assert request.data["amount_fen"] == 7_700 and request.data["buyer_id"] == order.buyer_id
    assert (case["type"], case["reason"], case["status"]) == ("REFUND_ONLY", "CANCELLED_BEFORE_SHIPMENT", "REFUNDING")
    await eventually(lambda: refund.handled(events[0].id), what="the unpaid cancellation handled")
    assert await _cases(refund, unpaid) == []


async def test_a_late_shipment_is_compensated_once_and_compensations_are_private(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=9_900, rights=[TR.FAST_SHIPPING])
    plain = await place_order(refund, publish, paid_fen=9_900)
    late = [
        OrderShippingLate(
            order_id=o.order_id, buyer_id=o.buyer_id, shop_id=o.shop_id, promised_by="2026-01-01T00:00:00Z"
        )
        for o in (order, order, plain)
    ]
    sent = await publish(*late, source=ORDER_SOURCE)
    await eventually(lambda: refund.handled(sent[1].id), what="the second shipping_late handled")
    await eventually(lambda: refund.handled(sent[2].id), what="the plain order's shipping_late handled")
    [cp] = await _compensations(refund, order, order.buyer)
    assert (cp["kind"], cp["payer"], cp["amount_fen"], cp["status"], cp["case_id"]) == (
        "LATE_SHIPMENT",
        "SHOP_DEPOSIT",
        refund.settings.late_shipment_compensation_fen,
        "GRANTED",
        None,
    )
    assert await refund.outbox_count("xinren.compensation.granted", order.order_id) == 1
    assert await _compensations(refund, plain) == []

    assert [c["compensation_id"] for c in await _compensations(refund, order, order.seller)] == [cp["compensation_id"]]
    assert await _compensations(refund, order, buyer_headers(uid("u"))) == []
    assert await _compensations(refund, order, seller_headers(uid("shop"))) == []
    mine = (await refund.client.get("/v1/compensations", headers=order.buyer)).json()["items"]
    assert [c["compensation_id"] for c in mine] == [cp["compensation_id"]]
    r = await refund.client.get("/v1/compensations", headers={})
    assert r.status_code == 401


async def test_a_qc_failure_seen_before_the_payment_is_applied_once_the_payment_arrives(
    refund, publish, event_collector
):
    # qc.failed and order.paid travel on different topics: nothing orders them for this consumer.
    order = Order(uid("ord"), uid("u"), uid("shop"), 12_000, [TR.FAKE_ONE_PAY_TEN])
    [early] = await publish(_failed(order), source=QC_SOURCE)
    await eventually(lambda: refund.handled(early.id), what="the early qc.failed handled")
    assert await _cases(refund, order) == []

    items = [OrderItem(sku_id=uid("sku"), title="和田玉籽料", category="jade", unit_price_fen=12_000, quantity=1)]
    common = dict(order_id=order.order_id, buyer_id=order.buyer_id, shop_id=order.shop_id)
    await publish(
        OrderCreated(**common, items=items, total_fen=12_000, qc_required=True, trust_rights=order.rights),
        OrderPaid(**common, items=items, paid_fen=12_000, qc_required=True, category="jade", trust_rights=order.rights),
        source=ORDER_SOURCE,
    )
    [case] = await eventually(lambda: _cases(refund, order), what="the platform's case")
    assert (case["reason"], case["amount_fen"], case["status"]) == ("QC_FAILED", 12_000, "REFUNDING")
    [cp] = await eventually(lambda: _compensations(refund, order), what="the counterfeit compensation")
    assert (cp["kind"], cp["amount_fen"]) == ("COUNTERFEIT", 120_000)
    await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
