"""Deadlines a front end can show: each waiting state's deadline on the case and on its events, moved along with the
state (its timer cancelled), the buyer's return deadline closing the case; where to send the goods."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import (
    ADMIN,
    RETURN_ADDRESS,
    about,
    case_reaches,
    command,
    open_case,
    place_order,
)

DEADLINE_TIMERS = ["review_deadline", "return_send_deadline", "return_receipt_deadline", "escalation_deadline"]


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def _live_deadline_timers(svc, case_id: str) -> list[str]:
    timer = svc.runtime.tables.timer
    stmt = select(timer.c.kind).where(
        timer.c.key == case_id,
        timer.c.kind.in_(DEADLINE_TIMERS),
        timer.c.fired_at.is_(None),
        timer.c.cancelled_at.is_(None),
    )
    async with svc.runtime.session_factory() as s:
        return sorted((await s.execute(stmt)).scalars().all())


async def test_deadlines_move_with_the_case_and_its_events(refund, publish, event_collector):
    order = await place_order(
        refund,
        publish,
        paid_fen=16_000,
        rights=[TR.SEVEN_DAY_RETURN],
        delivered_at=datetime.now(UTC) - timedelta(days=1),
        return_address=RETURN_ADDRESS,
    )
    case = await open_case(refund, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    cid = case["case_id"]
    # The seller must review within 48 hours.
    assert (case["status"], case["next_actor"]) == ("REQUESTED", "SELLER")
    assert _at(case["review_due_at"]) == _at(case["timeline"][0]["at"]) + timedelta(hours=48)
    assert case["due_at"] == case["review_due_at"]
    assert (case["return_due_at"], case["return_address"], case["return_address_missing"]) == (None, None, False)
    assert await _live_deadline_timers(refund, cid) == ["review_deadline"]
    [requested] = await event_collector.wait_for(about("xinren.aftersale.requested", case_id=cid))
    assert _at(requested.data["due_at"]) == _at(case["due_at"])

    # Approved: the buyer must send the goods back within 7 days, to the shop's return address.
    approved = await command(refund, cid, "approve", order.seller, {"reason": "同意退货"})
    assert (approved["status"], approved["next_actor"], approved["review_due_at"]) == ("AWAITING_RETURN", "BUYER", None)
    assert _at(approved["return_due_at"]) == _at(approved["timeline"][-1]["at"]) + timedelta(days=7)
    assert approved["due_at"] == approved["return_due_at"]
    assert approved["return_address"] == RETURN_ADDRESS.model_dump() and approved["return_address_missing"] is False
    assert await _live_deadline_timers(refund, cid) == ["return_send_deadline"]
    [event] = await event_collector.wait_for(about("xinren.aftersale.approved", case_id=cid))
    assert event.data["status"] == "APPROVED" and _at(event.data["due_at"]) == _at(approved["return_due_at"])

    # Shipped back: the seller must confirm receipt within 7 days.
    shipped = await command(refund, cid, "return-shipment", order.buyer, {"carrier": "SF", "tracking_no": "SF-R1"})
    assert (shipped["status"], shipped["next_actor"], shipped["return_due_at"]) == ("RETURN_SHIPPED", "SELLER", None)
    assert _at(shipped["return_receipt_due_at"]) == _at(shipped["timeline"][-1]["at"]) + timedelta(days=7)
    assert shipped["due_at"] == shipped["return_receipt_due_at"]
    assert shipped["return_address"] == RETURN_ADDRESS.model_dump()
    assert await _live_deadline_timers(refund, cid) == ["return_receipt_deadline"]
    [event] = await event_collector.wait_for(about("xinren.aftersale.return_shipped", case_id=cid))
    assert _at(event.data["due_at"]) == _at(shipped["return_receipt_due_at"])

    # Received: the money is the platform's to move; no party has a deadline left.
    received = await command(refund, cid, "return-received", order.seller)
    assert (received["status"], received["next_actor"], received["due_at"]) == ("REFUNDING", "PLATFORM", None)
    assert received["return_receipt_due_at"] is None
    assert await _live_deadline_timers(refund, cid) == []
    [event] = await event_collector.wait_for(about("xinren.aftersale.return_received", case_id=cid))
    assert event.data.get("due_at") is None  # a None field is left out


async def test_a_rejection_gives_the_buyer_an_escalation_deadline_and_the_seller_none(refund, publish):
    order = await place_order(refund, publish, paid_fen=6_000, shipped=True)
    case = await open_case(refund, order, reason="NOT_RECEIVED")
    rejected = await command(refund, case["case_id"], "reject", order.seller, {"reason": "物流显示已签收"})
    assert (rejected["next_actor"], rejected["review_due_at"]) == ("BUYER", None)
    assert rejected["due_at"] == rejected["escalation_due_at"] is not None
    escalated = await command(refund, case["case_id"], "escalate", order.buyer)
    assert (escalated["next_actor"], escalated["due_at"], escalated["escalation_due_at"]) == ("PLATFORM", None, None)
    assert await _live_deadline_timers(refund, case["case_id"]) == []


async def test_an_approved_return_to_a_shop_without_a_return_address_says_so(refund, publish):
    order = await place_order(
        refund, publish, paid_fen=9_000, rights=[TR.SEVEN_DAY_RETURN], delivered_at=datetime.now(UTC)
    )
    case = await open_case(refund, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    approved = await command(refund, case["case_id"], "approve", order.seller)
    assert (approved["return_address"], approved["return_address_missing"]) == (None, True)
    # The buyer may still send the goods back.
    shipped = await command(
        refund, case["case_id"], "return-shipment", order.buyer, {"carrier": "YTO", "tracking_no": "YT-R2"}
    )
    assert shipped["status"] == "RETURN_SHIPPED"


async def test_a_return_not_sent_in_time_closes_the_case_and_frees_its_amount(refund_short, publish, event_collector):
    svc = refund_short  # the buyer has 1 s to send the goods back
    order = await place_order(
        svc, publish, paid_fen=12_000, rights=[TR.SEVEN_DAY_RETURN], delivered_at=datetime.now(UTC)
    )
    case = await open_case(svc, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    approved = await command(svc, case["case_id"], "approve", order.seller)
    assert approved["status"] == "AWAITING_RETURN" and approved["due_at"] is not None

    closed = await case_reaches(svc, case["case_id"], "CLOSED", timeout=15)
    assert (closed["close_code"], closed["next_actor"], closed["due_at"], closed["return_due_at"]) == (
        "RETURN_NOT_SENT",
        None,
        None,
        None,
    )
    assert closed["timeline"][-1]["actor"] == "system"
    [event] = await event_collector.wait_for(about("xinren.aftersale.closed", case_id=case["case_id"]))
    assert event.data["status"] == "CLOSED"
    late = await command(
        svc, case["case_id"], "return-shipment", order.buyer, {"carrier": "SF", "tracking_no": "SF-LATE"}, expect=409
    )
    assert late["error"]["details"]["current_status"] == "CLOSED"
    eligibility = (
        await svc.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=ADMIN)
    ).json()
    assert eligibility["refundable_fen"] == 12_000
