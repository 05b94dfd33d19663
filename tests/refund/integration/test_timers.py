"""Durable timers with durations in seconds (own app, own database): seller silence, escalation window, re-sends."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from xinren_shared.contracts.orders import OrderCompensationPaid, OrderShippingLate
from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import (
    ADMIN,
    ORDER_SOURCE,
    about,
    case_reaches,
    command,
    eventually,
    open_case,
    place_order,
    refunded,
    statuses,
)


async def _compensations(svc, order) -> list[dict]:
    r = await svc.client.get("/v1/compensations", params={"order_id": order.order_id}, headers=ADMIN)
    return r.json()["items"]


async def test_seller_silence_past_the_review_deadline_approves_automatically(refund_fast, publish, event_collector):
    order = await place_order(refund_fast, publish, paid_fen=6_000, shipped=True)
    case = await open_case(refund_fast, order, reason="NOT_RECEIVED")
    assert case["status"] == "REQUESTED"
    done = await case_reaches(refund_fast, case["case_id"], "REFUNDING", timeout=15)
    assert statuses(done) == ["REQUESTED", "APPROVED", "REFUNDING"]
    assert done["timeline"][1]["actor"] == "system" and "did not review" in done["timeline"][1]["reason"]
    await event_collector.wait_for(about("xinren.aftersale.approved", case_id=case["case_id"]))
    await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))


async def test_seller_silence_after_the_return_refunds_automatically(refund_fast, publish, event_collector):
    rights = [TR.SEVEN_DAY_RETURN, TR.RETURN_SHIPPING_SUBSIDY]
    order = await place_order(
        refund_fast, publish, paid_fen=16_000, rights=rights, delivered_at=datetime.now(UTC) - timedelta(days=1)
    )
    case = await open_case(refund_fast, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    await case_reaches(refund_fast, case["case_id"], "AWAITING_RETURN", timeout=15)  # approved by the review timer
    await command(
        refund_fast, case["case_id"], "return-shipment", order.buyer, {"carrier": "YTO", "tracking_no": "YT9"}
    )
    done = await case_reaches(refund_fast, case["case_id"], "REFUNDING", timeout=15)
    assert statuses(done)[-3:] == ["RETURN_RECEIVED", "REFUNDING", "REFUNDING"]
    assert done["timeline"][-3]["actor"] == "system"
    assert [c["kind"] for c in done["compensations"]] == ["RETURN_SHIPPING"]
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    assert request.data["amount_fen"] == 16_000
    await event_collector.wait_for(about("xinren.aftersale.return_received", case_id=case["case_id"]))


async def test_a_rejection_not_escalated_in_time_becomes_final(refund_fast, publish, event_collector):
    order = await place_order(refund_fast, publish, paid_fen=6_000, shipped=True)
    case = await open_case(refund_fast, order, reason="NOT_RECEIVED")
    await command(refund_fast, case["case_id"], "reject", order.seller, {"reason": "物流显示已签收"})
    closed = await case_reaches(refund_fast, case["case_id"], "CLOSED", timeout=15)
    assert "not escalated" in closed["close_reason"]
    await command(refund_fast, case["case_id"], "escalate", order.buyer, expect=409)
    [evt] = await event_collector.wait_for(about("xinren.aftersale.closed", case_id=case["case_id"]))
    assert evt.data["status"] == "CLOSED"


async def test_unanswered_money_requests_are_sent_again_under_the_same_ids(refund_fast, publish, event_collector):
    order = await place_order(refund_fast, publish, paid_fen=5_500, rights=[TR.FAST_SHIPPING])
    case = await open_case(refund_fast, order)  # before shipment: refund requested at once
    await publish(
        OrderShippingLate(
            order_id=order.order_id, buyer_id=order.buyer_id, shop_id=order.shop_id, promised_by=datetime.now(UTC)
        ),
        source=ORDER_SOURCE,
    )
    requests = await event_collector.wait_for(
        about("xinren.refund.requested", case_id=case["case_id"]), count=2, timeout=15
    )
    assert {e.data["refund_id"] for e in requests} == {f"rf_{case['case_id']}"}
    assert len({e.id for e in requests}) == 2  # new deliveries, one request
    [cp] = await eventually(lambda: _compensations(refund_fast, order), what="the late-shipment compensation")
    grants = await event_collector.wait_for(
        about("xinren.compensation.granted", compensation_id=cp["compensation_id"]), count=2, timeout=15
    )
    assert len({e.id for e in grants}) == 2 and grants[0].data == grants[1].data

    await publish(
        refunded(order, requests[0].data, refunded_total_fen=5_500),
        OrderCompensationPaid(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            compensation_id=grants[0].data["compensation_id"],
            kind="LATE_SHIPMENT",
            amount_fen=grants[0].data["amount_fen"],
            payer="SHOP_DEPOSIT",
        ),
        source=ORDER_SOURCE,
    )
    done = await case_reaches(refund_fast, case["case_id"], "REFUNDED", timeout=15)
    assert done["refunded_fen"] == 5_500
    # Answered: no timer is left to send either request again.
    timer = refund_fast.runtime.tables.timer

    async def no_live_resend():
        async with refund_fast.runtime.session_factory() as s:
            live = select(timer.c.key).where(
                timer.c.fired_at.is_(None),
                timer.c.cancelled_at.is_(None),
                timer.c.kind.in_(["refund_resend", "compensation_resend"]),
            )
            rows = (await s.execute(live)).scalars().all()
        cp = grants[0].data["compensation_id"]
        return not [k for k in rows if k.startswith(case["case_id"]) or k.startswith(cp)]

    await eventually(no_live_resend, what="no live re-send timer")
