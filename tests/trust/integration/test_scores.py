"""Scores from events: late shipments and lost arbitrations drop a shop out of the FAST_REFUND band, announced
once with trust.score_changed; events are counted once however often they arrive."""

from tests.trust.support import ADMIN, ORDER, REFUND, eventually, paid, seller, shipped, uid
from xinren_shared.contracts.aftersales import AfterSaleApproved, AfterSaleEscalated, AfterSaleRequested
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleStatus, AfterSaleType


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
