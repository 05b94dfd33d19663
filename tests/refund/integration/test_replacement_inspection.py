"""先验后发 for exchanges and reships: a QC product's replacement goes to the quality-check warehouse first. The case
waits at REPLACEMENT_INSPECTING (the platform's, no receipt timer), follows the warehouse's qc.* events that name it:
passed and dispatched → REPLACEMENT_SHIPPED with the forward parcel, delivered → COMPLETED; failed →
AWAITING_REPLACEMENT (the seller ships another); not at the warehouse in time → ARBITRATION."""

from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.qc import QcCaseOpened, QcDispatched, QcExpired, QcFailed, QcItemReceived, QcPassed
from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason

from ..support import (
    QC_SOURCE,
    Order,
    about,
    case_reaches,
    command,
    eventually,
    get_case,
    open_case,
    place_order,
    statuses,
    uid,
)

WAREHOUSE = "云南省瑞丽市姐告路 1 号 质检仓"


def _qc(order: Order, qc_case_id: str, aftersale_case_id: str | None = None) -> dict:
    return dict(
        order_id=order.order_id,
        case_id=qc_case_id,
        buyer_id=order.buyer_id,
        shop_id=order.shop_id,
        warehouse_id="wh_ruili",
        aftersale_case_id=aftersale_case_id,
    )


def opened(order: Order, qc_case_id: str, aftersale_case_id: str | None = None) -> QcCaseOpened:
    deadline = datetime.now(UTC) + timedelta(days=5)
    return QcCaseOpened(**_qc(order, qc_case_id, aftersale_case_id), warehouse_address=WAREHOUSE,
                        inbound_deadline=deadline)  # fmt: skip


async def _reship_awaiting_replacement(refund, publish) -> tuple[Order, str]:
    """A QC order, shipped, whose item the warehouse at WAREHOUSE inspected; a reship approved by the seller."""
    order = await place_order(refund, publish, shipped=True, qc_required=True)
    [sent] = await publish(opened(order, f"qc_{order.order_id}"), source=QC_SOURCE)
    await eventually(lambda: refund.handled(sent.id), what="the order's qc.case_opened handled")
    case = await open_case(refund, order, type="RESHIP", reason="MISSING_PARTS")
    await command(refund, case["case_id"], "approve", order.seller, {"reason": "补发"})
    waiting = await case_reaches(refund, case["case_id"], "AWAITING_REPLACEMENT")
    assert waiting["replacement_via_warehouse"] == WAREHOUSE  # where the seller ships it
    return order, case["case_id"]


async def _ship_to_warehouse(refund, order: Order, cid: str, tracking_no: str) -> dict:
    body = {"carrier": "SF", "tracking_no": tracking_no}
    shipped = await command(refund, cid, "replacement-shipment", order.seller, body)
    assert shipped["status"] == "REPLACEMENT_INSPECTING" and shipped["next_actor"] == "PLATFORM"
    assert shipped["due_at"] is None and shipped["replacement_receipt_due_at"] is None
    assert shipped["replacement_shipment"] == body and shipped["replacement_via_warehouse"] == WAREHOUSE
    async with refund.runtime.session_factory() as s:  # nothing may complete it while it is at the warehouse
        assert await refund.runtime.timers.pending(s, "replacement_receipt_deadline", cid) is None
    return shipped


async def _timeline_says(refund, cid: str, text: str) -> dict:
    async def probe():
        case = await get_case(refund, cid)
        return case if any(text in (t["reason"] or "") for t in case["timeline"]) else None

    return await eventually(probe, what=f"case {cid}'s timeline saying {text!r}")


async def test_a_passed_replacement_is_shipped_on_by_the_warehouse_and_completes_on_delivery(
    refund, publish, event_collector
):
    order, cid = await _reship_awaiting_replacement(refund, publish)
    await _ship_to_warehouse(refund, order, cid, "SF-R1")
    [to_qc] = await event_collector.wait_for(about("xinren.aftersale.replacement_shipped", case_id=cid))
    assert (to_qc.data["status"], to_qc.data["qc_required"], to_qc.data.get("from_warehouse_id")) == (
        "REPLACEMENT_INSPECTING",
        True,
        None,
    )
    early = await command(refund, cid, "replacement-received", order.buyer, expect=409)
    assert early["error"]["code"] == "REPLACEMENT_AT_WAREHOUSE"

    qc_id = uid("qc")
    await publish(opened(order, qc_id, cid), QcItemReceived(**_qc(order, qc_id, cid)), source=QC_SOURCE)
    seen = await _timeline_says(refund, cid, "arrived at quality-check warehouse")
    assert seen["replacement_inspection_id"] == qc_id and seen["status"] == "REPLACEMENT_INSPECTING"
    await publish(QcPassed(**_qc(order, qc_id, cid), certificate_no="XR-REPLACEMENT-1"), source=QC_SOURCE)
    [inspected] = await event_collector.wait_for(about("xinren.aftersale.replacement_inspected", case_id=cid))
    assert (inspected.data["outcome"], inspected.data["replacement_certificate_no"]) == ("PASSED", "XR-REPLACEMENT-1")
    assert inspected.data["status"] == "REPLACEMENT_INSPECTING" and inspected.data["inspection_case_id"] == qc_id
    # Passed is not yet shipped: the case waits for the warehouse's dispatch.
    assert (await get_case(refund, cid))["status"] == "REPLACEMENT_INSPECTING"

    forward = dict(to=DispatchTarget.BUYER, carrier="JD", tracking_no="JD-FWD-1")
    await publish(QcDispatched(**_qc(order, qc_id, cid), **forward), source=QC_SOURCE)
    shipped = await case_reaches(refund, cid, "REPLACEMENT_SHIPPED")
    assert shipped["replacement_shipment"] == {"carrier": "JD", "tracking_no": "JD-FWD-1"}
    assert shipped["next_actor"] == "BUYER" and shipped["due_at"] == shipped["replacement_receipt_due_at"]
    assert shipped["replacement_certificate_no"] == "XR-REPLACEMENT-1" and shipped["replacement_via_warehouse"] is None
    [_, on_its_way] = await event_collector.wait_for(
        about("xinren.aftersale.replacement_shipped", case_id=cid), count=2
    )
    assert (on_its_way.data["status"], on_its_way.data["from_warehouse_id"]) == ("REPLACEMENT_SHIPPED", "wh_ruili")
    assert (on_its_way.data["tracking_no"], on_its_way.data["replacement_certificate_no"]) == (
        "JD-FWD-1",
        "XR-REPLACEMENT-1",
    )

    done = await command(refund, cid, "replacement-received", order.buyer)
    assert done["status"] == "COMPLETED"
    assert statuses(done) == [
        "REQUESTED",
        "APPROVED",
        "AWAITING_REPLACEMENT",
        "REPLACEMENT_INSPECTING",
        "REPLACEMENT_INSPECTING",  # the warehouse expects it
        "REPLACEMENT_INSPECTING",  # arrived
        "REPLACEMENT_INSPECTING",  # passed
        "REPLACEMENT_SHIPPED",
        "COMPLETED",
    ]


async def test_a_failed_replacement_sends_the_seller_back_to_ship_another_which_passes(
    refund, publish, event_collector
):
    order, cid = await _reship_awaiting_replacement(refund, publish)
    await _ship_to_warehouse(refund, order, cid, "SF-R1")
    first = uid("qc")
    failure = dict(reason=QcFailureReason.DAMAGED, findings="crack across the inner rim")
    await publish(opened(order, first, cid), QcFailed(**_qc(order, first, cid), **failure), source=QC_SOURCE)
    back = await case_reaches(refund, cid, "AWAITING_REPLACEMENT")
    assert back["next_actor"] == "SELLER" and back["due_at"] == back["replacement_ship_due_at"] is not None
    assert "failed inspection (DAMAGED: crack across the inner rim)" in back["timeline"][-1]["reason"]
    [failed] = await event_collector.wait_for(about("xinren.aftersale.replacement_inspected", case_id=cid))
    assert (failed.data["outcome"], failed.data["status"], failed.data["failure_reason"]) == (
        "FAILED",
        "AWAITING_REPLACEMENT",
        "DAMAGED",
    )
    assert failed.data["due_at"] is not None
    returned = dict(to=DispatchTarget.SELLER, carrier="SF", tracking_no="SF-BACK-1")
    await publish(QcDispatched(**_qc(order, first, cid), **returned), source=QC_SOURCE)
    await _timeline_says(refund, cid, "goes back to the seller: SF SF-BACK-1")

    # The parcel that failed is no new replacement; another one goes to the warehouse again.
    again = await command(refund, cid, "replacement-shipment", order.seller, {"carrier": "SF", "tracking_no": "sf-r1"},
                          expect=409)  # fmt: skip
    assert again["error"]["code"] == "REPLACEMENT_PARCEL_FAILED"
    await _ship_to_warehouse(refund, order, cid, "SF-R2")
    second = uid("qc")
    # A late event of the first inspection moves nothing.
    stale = QcPassed(**_qc(order, first, cid), certificate_no="XR-STALE")
    await publish(stale, opened(order, second, cid), source=QC_SOURCE)
    await publish(QcPassed(**_qc(order, second, cid), certificate_no="XR-R2"), source=QC_SOURCE)
    forward = dict(to=DispatchTarget.BUYER, carrier="SF", tracking_no="SF-FWD-2")
    await publish(QcDispatched(**_qc(order, second, cid), **forward), source=QC_SOURCE)
    shipped = await case_reaches(refund, cid, "REPLACEMENT_SHIPPED")
    assert (shipped["replacement_certificate_no"], shipped["replacement_inspection_id"]) == ("XR-R2", second)
    done = await command(refund, cid, "replacement-received", order.buyer)
    assert done["status"] == "COMPLETED"
    assert "XR-STALE" not in str(done["timeline"])

    # A replacement's failure is not the order's: no platform refund, no other case.
    listed = await refund.client.get("/v1/after-sales", params={"order_id": order.order_id}, headers=order.buyer)
    assert [c["case_id"] for c in listed.json()["items"]] == [cid]
    assert await refund.outbox_count("xinren.refund.requested", order.order_id) == 0


async def test_a_replacement_that_never_reaches_the_warehouse_goes_to_the_platform(refund, publish, event_collector):
    order, cid = await _reship_awaiting_replacement(refund, publish)
    await _ship_to_warehouse(refund, order, cid, "SF-R1")
    qc_id = uid("qc")
    await publish(opened(order, qc_id, cid), QcExpired(**_qc(order, qc_id, cid)), source=QC_SOURCE)
    decided = await case_reaches(refund, cid, "ARBITRATION")
    assert "did not reach the quality-check warehouse in time" in decided["timeline"][-1]["reason"]
    await event_collector.wait_for(about("xinren.aftersale.escalated", case_id=cid))
    assert await refund.outbox_count("xinren.refund.requested", order.order_id) == 0
