"""Scores from events: late shipments and lost arbitrations drop a shop out of the FAST_REFUND band, announced
once with trust.score_changed; events are counted once however often they arrive."""

from tests.trust.support import ADMIN, ORDER, REFUND, eventually, host, paid, seller, shipped, uid
from xinren_shared.contracts.aftersales import AfterSaleApproved, AfterSaleEscalated, AfterSaleItem, AfterSaleRequested
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleStatus, AfterSaleType
from xinren_trust.models import CaseFact


def case_event(cls, order, case_id, status):
    return cls(
        order_id=order.order_id, case_id=case_id, type=AfterSaleType.REFUND_ONLY, reason=AfterSaleReason.QUALITY_ISSUE,
        amount_fen=600_000, status=status, buyer_id=order.buyer_id, shop_id=order.shop_id,
    )  # fmt: skip


async def lost_arbitration(publish, order):
    case_id = uid("as")
    await publish(
        case_event(AfterSaleRequested, order, case_id, AfterSaleStatus.REQUESTED),
        case_event(AfterSaleEscalated, order, case_id, AfterSaleStatus.ARBITRATION),
        case_event(AfterSaleApproved, order, case_id, AfterSaleStatus.APPROVED),
        source=REFUND,
    )


async def test_late_shipments_and_lost_arbitrations_leave_the_fast_refund_band(trust, publish, event_collector):
    shop_id = uid("shop")
    orders = [paid(shop_id, ship_in=-60) for _ in range(5)]  # every ship-by time already passed
    await publish(*orders, source=ORDER)
    await publish(*[shipped(o) for o in orders], source=ORDER)
    await publish(shipped(orders[0]), source=ORDER)  # a redelivery counts once
    for order in orders[:2]:
        await lost_arbitration(publish, order)

    async def dropped():
        view = await trust.get(f"/v1/trust/shops/{shop_id}", seller(shop_id))
        losses = next(i for i in view["indicators"] if i["name"] == "arbitration_losses")
        return view if losses["value"] == 2 else None

    view = await eventually(dropped, what="two arbitration losses counted")
    on_time = next(i for i in view["indicators"] if i["name"] == "on_time_shipment_rate")
    assert on_time["value"] == 0.0 and on_time["contribution"] == 0.0
    assert view["score"] < 4.5 and view["band"] != "EXCELLENT" and "FAST_REFUND" not in view["rights"]
    changes = await event_collector.wait_for(
        lambda e: (
            e.type == "xinren.trust.score_changed"
            and e.data.get("subject_id") == shop_id
            and e.data["band"] == view["band"]
        )
    )
    assert "FAST_REFUND" not in changes[0].data["rights"] and changes[0].data["previous_band"]

    listed = await trust.get("/v1/trust/shops", ADMIN, band=view["band"], limit=200)
    assert shop_id in {s["subject_id"] for s in listed["items"]}


async def test_unknown_subjects_have_full_marks_and_lists_are_for_the_right_roles(trust):
    view = await trust.get(f"/v1/trust/products/{uid('sku')}", seller(uid("shop")))
    assert view["score"] == 5.0 and view["band"] == "EXCELLENT" and view["indicators"] == []
    await trust.get("/v1/trust/shops", seller(uid("shop")), expect=403)
    await trust.get("/v1/trust/actions", bearer_buyer(), expect=403)


def bearer_buyer():
    from tests.trust.support import SECRET
    from xinren_shared.testing.http import bearer

    return bearer(SECRET, "buyer", uid("buyer"))


async def test_a_case_consumed_before_the_orders_events_still_counts_against_its_host_and_product(trust, publish):
    """aftersale.requested comes on another topic than the order's events: consumed first (while the service
    catches up after an outage, say), it cannot name the order's host yet. Once order.paid arrives, the case counts
    in the host's after-sales rate all the same, once; the product is known from the case's own lines."""
    shop_id, host_id, sku = uid("shop"), uid("host"), uid("sku")
    order = paid(shop_id, host_id=host_id, sku_id=sku)
    case = case_event(AfterSaleRequested, order, uid("as"), AfterSaleStatus.REQUESTED).model_copy(
        update={"items": [AfterSaleItem(sku_id=sku, quantity=1, amount_fen=600_000)]}
    )
    await publish(case, source=REFUND)

    async def case_known():
        async with trust.app.state.runtime.session_factory() as s:
            return await s.get(CaseFact, case.case_id)

    await eventually(case_known, what="the case remembered before the order is known")

    async def indicator(path: str, name: str, headers) -> float | None:
        view = await trust.get(path, headers)
        return next((i["value"] for i in view["indicators"] if i["name"] == name), None)

    product_rate = "product_quality_aftersales_rate"
    assert await eventually(lambda: indicator(f"/v1/trust/products/{sku}", product_rate, ADMIN)) > 0
    assert await indicator(f"/v1/trust/hosts/{host_id}", "host_aftersales_rate", host(host_id)) is None

    await publish(order, source=ORDER)
    await publish(order, source=ORDER)  # a redelivery counts once

    async def host_rate():
        rate = await indicator(f"/v1/trust/hosts/{host_id}", "host_aftersales_rate", host(host_id))
        return rate if rate is not None and rate > 0 else None

    assert await eventually(host_rate, what="the case in the host's after-sales rate") == 1.0  # 1 case of 1 order
    assert await indicator(f"/v1/trust/products/{sku}", product_rate, ADMIN) == 1.0
