"""A quality-check pass protects the seller: a counterfeit claim on a certified item is the platform's case, and an
upheld one is paid by the platform's guarantee and revokes the certificate (counterfeit_upheld)."""

from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.qc import QcPassed
from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import (
    ADMIN,
    ORDER_SOURCE,
    QC_SOURCE,
    about,
    command,
    eventually,
    open_case,
    order_events,
    place_order,
    statuses,
    uid,
)


async def _certified_order(refund, publish, *, rights=(), delivered_days_ago: float = 20):
    """An order whose item passed quality check; the certificate reaches this service before the order does (QC
    events come on another topic)."""
    delivered_at = datetime.now(UTC) - timedelta(days=delivered_days_ago)
    order, events = order_events(paid_fen=8_000, rights=rights, qc_required=True, delivered_at=delivered_at)
    certificate_no = f"XR-QC-{uid('c')}"
    [passed] = await publish(
        QcPassed(
            order_id=order.order_id,
            case_id=f"qc_{order.order_id}",
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            warehouse_id="wh_sihui",
            certificate_no=certificate_no,
            inspector_id="insp_1",
        ),
        source=QC_SOURCE,
    )
    await eventually(lambda: refund.handled(passed.id), what="qc.passed handled")
    await publish(*events, source=ORDER_SOURCE)

    async def delivered():
        r = await refund.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=ADMIN)
        return r.status_code == 200 and r.json()["delivered_at"] is not None

    await eventually(delivered, what="the delivered order in the view")
    return order, certificate_no


async def test_a_counterfeit_claim_on_a_certified_item_is_decided_and_paid_by_the_platform(
    refund, publish, event_collector
):
    # FAST_REFUND would approve 8 000 fen at once: a certified item's counterfeit claim still goes to the platform.
    order, certificate_no = await _certified_order(refund, publish, rights=[TR.FAKE_ONE_PAY_TEN, TR.FAST_REFUND])
    case = await open_case(refund, order, reason="COUNTERFEIT", evidence=["https://img.example/fake.jpg"])
    cid = case["case_id"]
    assert (case["status"], case["certificate_no"], case["next_actor"]) == ("ARBITRATION", certificate_no, "PLATFORM")
    assert statuses(case) == ["REQUESTED", "ARBITRATION"] and "CERTIFIED_COUNTERFEIT" in case["rules_applied"]
    assert case["review_due_at"] is None and case["due_at"] is None
    for step in ("requested", "escalated"):
        [evt] = await event_collector.wait_for(about(f"xinren.aftersale.{step}", case_id=cid))
        assert evt.data["certificate_no"] == certificate_no

    # The seller neither approves nor rejects it.
    for action, body in (("approve", None), ("reject", {"reason": "正品"})):
        refused = await command(refund, cid, action, order.seller, body, expect=409)
        assert refused["error"]["code"] == "PLATFORM_CASE"
        assert refused["error"]["details"]["certificate_no"] == certificate_no
    assert (await command(refund, cid, "escalate", order.buyer))["status"] == "ARBITRATION"  # already there

    # Upheld: the refund as usual, 10x compensation from the platform's guarantee, the certificate to be revoked.
    decided = await command(refund, cid, "arbitrate", ADMIN, {"decision": "REFUND", "reason": "鉴定为仿品"})
    assert decided["status"] == "REFUNDING"
    [cp] = decided["compensations"]
    assert (cp["kind"], cp["payer"], cp["amount_fen"]) == ("COUNTERFEIT", "PLATFORM_GUARANTEE", 80_000)
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=cid))
    assert request.data["amount_fen"] == 8_000
    [grant] = await event_collector.wait_for(about("xinren.compensation.granted", case_id=cid))
    assert (grant.data["payer"], grant.data["amount_fen"]) == ("PLATFORM_GUARANTEE", 80_000)
    [upheld] = await event_collector.wait_for(about("xinren.aftersale.counterfeit_upheld", case_id=cid))
    assert upheld.key == order.order_id
    assert (upheld.data["certificate_no"], upheld.data["order_id"], upheld.data["shop_id"]) == (
        certificate_no,
        order.order_id,
        order.shop_id,
    )


async def test_a_rejected_claim_on_a_certified_item_pays_nothing_and_revokes_nothing(refund, publish):
    order, _ = await _certified_order(refund, publish)
    case = await open_case(refund, order, reason="COUNTERFEIT")
    closed = await command(refund, case["case_id"], "arbitrate", ADMIN, {"decision": "REJECT", "reason": "鉴定为正品"})
    assert (closed["status"], closed["compensations"], closed["close_code"]) == ("CLOSED", [], "ARBITRATION_REJECTED")
    assert await refund.outbox_count("xinren.aftersale.counterfeit_upheld", order.order_id) == 0
    assert await refund.outbox_count("xinren.compensation.granted", order.order_id) == 0


async def test_other_claims_on_a_certified_item_and_counterfeit_claims_on_uncertified_ones_are_as_before(
    refund, publish
):
    # Another reason on a certified item: the seller reviews it.
    certified, _ = await _certified_order(refund, publish, delivered_days_ago=2)
    quality = await open_case(refund, certified, reason="QUALITY_ISSUE")
    assert (quality["status"], quality["certificate_no"]) == ("REQUESTED", None)
    await command(refund, quality["case_id"], "approve", certified.seller)

    # A counterfeit claim on an uncertified item: the seller reviews it, and an upheld one is the shop's to pay.
    order = await place_order(refund, publish, paid_fen=8_000, delivered_at=datetime.now(UTC) - timedelta(days=20))
    case = await open_case(refund, order, reason="COUNTERFEIT")
    assert (case["status"], case["certificate_no"], case["next_actor"]) == ("REQUESTED", None, "SELLER")
    await command(refund, case["case_id"], "reject", order.seller, {"reason": "正品"})
    await command(refund, case["case_id"], "escalate", order.buyer)
    decided = await command(refund, case["case_id"], "arbitrate", ADMIN, {"decision": "REFUND", "reason": "仿品"})
    [cp] = decided["compensations"]
    assert (cp["payer"], cp["amount_fen"]) == ("SHOP_DEPOSIT", 50_000)
    assert await refund.outbox_count("xinren.aftersale.counterfeit_upheld", order.order_id) == 0
