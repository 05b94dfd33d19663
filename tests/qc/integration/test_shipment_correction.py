"""The seller corrects the parcel's tracking number: arrival expects the new number and refuses the old one."""

from ..support import ORDER_SOURCE, category, corrected, shipped


async def _in_transit(qc) -> dict:
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    await qc.await_handled(await qc.publish(shipped(case["order_id"], case["warehouse_id"]), source=ORDER_SOURCE))
    return await qc.case_in(case["order_id"], "IN_TRANSIT")


async def test_arrival_refuses_a_parcel_that_is_not_the_orders(qc):
    case = await _in_transit(qc)
    r = await qc.arrive(case, tracking_no="YT999")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "TRACKING_MISMATCH"
    assert error["details"] == {"tracking_no": "YT999", "expected_tracking_no": "SF100"}
    assert (await qc.case_of(case["order_id"]))["status"] == "IN_TRANSIT"
    assert await qc.outbox_count("xinren.qc.item_received", case["order_id"]) == 0
    # The number as printed, in another case or spacing, is the same parcel.
    assert (await qc.arrive(case, tracking_no=" sf100 ")).status_code == 200


async def test_a_corrected_tracking_number_is_the_one_arrival_expects(qc):
    case = await _in_transit(qc)
    fix = corrected(case["order_id"], case["warehouse_id"], tracking_no="SF777", previous="SF100")
    # Delivered twice (a redelivery) and once more under a new event id: one timeline entry.
    sent = await qc.publish(fix, source=ORDER_SOURCE)
    sent += await qc.publish(sent[0], fix, source=ORDER_SOURCE)
    await qc.await_handled(sent)
    now = await qc.case_of(case["order_id"])
    assert now["status"] == "IN_TRANSIT" and now["inbound_shipment"] == {"carrier": "SF", "tracking_no": "SF777"}
    assert [t["status"] for t in now["timeline"]] == ["AWAITING_INBOUND", "IN_TRANSIT", "IN_TRANSIT"]
    assert "SF100 -> SF SF777" in now["timeline"][-1]["reason"]

    old = await qc.arrive(case, tracking_no="SF100")
    assert old.status_code == 409 and old.json()["error"]["code"] == "TRACKING_MISMATCH"
    assert old.json()["error"]["details"]["expected_tracking_no"] == "SF777"
    arrived = await qc.arrive(case, tracking_no="SF777")
    assert arrived.status_code == 200 and arrived.json()["status"] == "IN_INSPECTION"


async def test_corrections_to_the_buyer_or_after_arrival_change_nothing(qc):
    case = await _in_transit(qc)
    to_buyer = corrected(case["order_id"], None, tracking_no="SF555", to_qc=False)
    await qc.await_handled(await qc.publish(to_buyer, source=ORDER_SOURCE))
    assert (await qc.case_of(case["order_id"]))["inbound_shipment"]["tracking_no"] == "SF100"

    assert (await qc.arrive(case)).status_code == 200
    late = corrected(case["order_id"], case["warehouse_id"], tracking_no="SF888")
    await qc.await_handled(await qc.publish(late, source=ORDER_SOURCE))
    after = await qc.case_of(case["order_id"])
    assert after["status"] == "IN_INSPECTION" and after["inbound_shipment"]["tracking_no"] == "SF100"
    assert [t["status"] for t in after["timeline"]] == ["AWAITING_INBOUND", "IN_TRANSIT", "IN_INSPECTION"]


async def test_a_correction_before_order_shipped_reached_us_puts_the_case_in_transit(qc):
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    fix = corrected(case["order_id"], case["warehouse_id"], tracking_no="SF321")
    await qc.await_handled(await qc.publish(fix, source=ORDER_SOURCE))
    now = await qc.case_of(case["order_id"])
    assert now["status"] == "IN_TRANSIT" and now["inbound_shipment"]["tracking_no"] == "SF321"
    assert (await qc.arrive(case, tracking_no="SF100")).json()["error"]["code"] == "TRACKING_MISMATCH"
