"""A seller's rejection, the buyer's escalation and the platform's arbitration."""

from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import ADMIN, ORDER_SOURCE, about, command, open_case, place_order, refunded, statuses


async def _rejected_and_escalated(refund, order, **body) -> str:
    case = await open_case(refund, order, **body)
    cid = case["case_id"]
    await command(refund, cid, "escalate", order.buyer, expect=409)  # nothing to escalate before a rejection
    rejected = await command(refund, cid, "reject", order.seller, {"reason": "商品无质量问题"})
    assert rejected["status"] == "REJECTED" and rejected["escalation_due_at"] is not None
    await command(refund, cid, "escalate", order.seller, expect=403)
    escalated = await command(refund, cid, "escalate", order.buyer, {"reason": "有明显裂纹"})
    assert escalated["status"] == "ARBITRATION"
    return cid


async def test_arbitrated_refund_pays_the_decided_amount(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=20_000, delivered_at=datetime.now(UTC) - timedelta(days=2))
    cid = await _rejected_and_escalated(refund, order, reason="QUALITY_ISSUE", amount_fen=15_000)
    await command(refund, cid, "arbitrate", order.seller, {"decision": "REFUND", "reason": "x"}, expect=403)
    too_much = await command(
        refund, cid, "arbitrate", ADMIN, {"decision": "REFUND", "amount_fen": 20_001, "reason": "x"}, expect=422
    )
    assert too_much["error"]["code"] == "AMOUNT_EXCEEDS_REFUNDABLE"

    case = await command(
        refund, cid, "arbitrate", ADMIN, {"decision": "REFUND", "amount_fen": 12_000, "reason": "裂纹属实，部分退款"}
    )
    assert (case["status"], case["amount_fen"], case["compensations"]) == ("REFUNDING", 12_000, [])
    assert statuses(case) == ["REQUESTED", "REJECTED", "ARBITRATION", "APPROVED", "REFUNDING"]
    assert [t["actor"] for t in case["timeline"]][3] == "admin:ops-1"

    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=cid))
    assert request.data["amount_fen"] == 12_000
    await publish(refunded(order, request.data, refunded_total_fen=12_000), source=ORDER_SOURCE)
    await event_collector.wait_for(about("xinren.aftersale.refunded", case_id=cid))
    for step in ("rejected", "escalated", "approved"):
        [evt] = await event_collector.wait_for(about(f"xinren.aftersale.{step}", case_id=cid))
        assert evt.data["case_id"] == cid
    # After the refund, 8 000 fen remain refundable.
    eligibility = (
        await refund.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=ADMIN)
    ).json()
    assert (eligibility["refunded_fen"], eligibility["refundable_fen"]) == (12_000, 8_000)


async def test_arbitrated_rejection_closes_the_case(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=20_000, delivered_at=datetime.now(UTC) - timedelta(days=2))
    cid = await _rejected_and_escalated(refund, order, reason="NOT_AS_DESCRIBED")
    case = await command(refund, cid, "arbitrate", ADMIN, {"decision": "REJECT", "reason": "与描述一致"})
    assert case["status"] == "CLOSED" and "与描述一致" in case["close_reason"]
    [closed] = await event_collector.wait_for(about("xinren.aftersale.closed", case_id=cid))
    assert closed.data["status"] == "CLOSED" and closed.data["case_id"] == cid
    again = await command(refund, cid, "arbitrate", ADMIN, {"decision": "REFUND", "reason": "x"}, expect=409)
    assert again["error"]["details"]["current_status"] == "CLOSED"
    assert await refund.outbox_count("xinren.refund.requested", order.order_id) == 0
    # The rejected amount is free again.
    eligibility = (
        await refund.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=order.buyer)
    ).json()
    assert eligibility["refundable_fen"] == 20_000


async def test_a_counterfeit_confirmed_by_arbitration_is_compensated(refund, publish, event_collector):
    for rights, expected in (([TR.FAKE_ONE_PAY_TEN], 80_000), ([], 50_000)):
        order = await place_order(
            refund, publish, paid_fen=8_000, rights=rights, delivered_at=datetime.now(UTC) - timedelta(days=20)
        )
        cid = await _rejected_and_escalated(refund, order, type="REFUND_ONLY", reason="COUNTERFEIT")
        case = await command(refund, cid, "arbitrate", ADMIN, {"decision": "REFUND", "reason": "鉴定为仿品"})
        [cp] = case["compensations"]
        assert (cp["kind"], cp["payer"], cp["amount_fen"]) == ("COUNTERFEIT", "SHOP_DEPOSIT", expected)
        [grant] = await event_collector.wait_for(about("xinren.compensation.granted", case_id=cid))
        assert grant.data["amount_fen"] == expected and grant.data["case_id"] == cid
