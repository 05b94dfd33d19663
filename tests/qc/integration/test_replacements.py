"""先验后发 for exchanges and reships: a QC product's replacement, shipped by the seller to the warehouse
(aftersale.replacement_shipped with status REPLACEMENT_INSPECTING), is a case of its own at the order's warehouse,
received, judged and dispatched like the order's item, every qc.* event naming the after-sales case."""

from xinren_shared.contracts.aftersales import AfterSaleItem, AfterSaleReplacementShipped
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleStatus, AfterSaleType

from ..support import BUYER_ADDRESS, REFUND_SOURCE, RETURN_ADDRESS, category, eventually, rid

REPLACEMENT_TYPES = (
    "xinren.qc.case_opened",
    "xinren.qc.item_received",
    "xinren.qc.passed",
    "xinren.qc.failed",
    "xinren.qc.dispatched",
)


def replacement_shipped(
    case: dict,
    aftersale_case_id: str,
    tracking_no: str,
    *,
    status: AfterSaleStatus = AfterSaleStatus.REPLACEMENT_INSPECTING,
    qc_required: bool = True,
) -> AfterSaleReplacementShipped:
    return AfterSaleReplacementShipped(
        order_id=case["order_id"],
        case_id=aftersale_case_id,
        type=AfterSaleType.EXCHANGE,
        reason=AfterSaleReason.QUALITY_ISSUE,
        amount_fen=0,
        status=status,
        buyer_id=case["buyer_id"],
        shop_id=case["shop_id"],
        items=[AfterSaleItem(sku_id=case["items"][0]["sku_id"], quantity=1)],
        carrier="SF",
        tracking_no=tracking_no,
        qc_required=qc_required,
    )


async def _delivered_case(qc) -> dict:
    """An order's item passed and dispatched to the buyer."""
    cat = category()
    await qc.warehouse(cat)
    await qc.warehouse(cat, name="A second jade house")  # the replacement still goes where the order's item went
    case = await qc.open_case(cat)
    assert (await qc.arrive(case)).status_code == 200
    assert (await qc.verdict(case, "PASSED")).status_code == 200
    assert (await qc.dispatch(case)).status_code == 200
    return (await qc.client.get(f"/v1/qc/cases/{case['case_id']}", headers=qc.admin())).json()


async def _replacement_case(qc, order_id: str, aftersale_case_id: str, tracking_no: str, *statuses: str) -> dict:
    async def probe():
        r = await qc.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=qc.admin())
        assert r.status_code == 200, r.text
        found = [
            c
            for c in r.json()["items"]
            if c["aftersale_case_id"] == aftersale_case_id and c["inbound_shipment"]["tracking_no"] == tracking_no
        ]
        return found[0] if found and found[0]["status"] in statuses else None

    return await eventually(probe)


async def test_a_replacement_is_inspected_at_the_orders_warehouse_passed_certified_and_sent_to_the_buyer(qc):
    original = await _delivered_case(qc)
    order_id, as_id = original["order_id"], rid("as")
    # The same fact twice under two event ids (a producer retry): one case per parcel.
    await qc.publish(replacement_shipped(original, as_id, "SF-R1"), source=REFUND_SOURCE)
    sent = await qc.publish(replacement_shipped(original, as_id, "SF-R1"), source=REFUND_SOURCE)
    await qc.await_handled(sent)
    case = await _replacement_case(qc, order_id, as_id, "SF-R1", "IN_TRANSIT")
    assert case["case_id"] != original["case_id"] and case["warehouse_id"] == original["warehouse_id"]
    assert case["items"][0]["title"] == original["items"][0]["title"] and case["category"] == original["category"]
    assert case["inbound_deadline"] and case["shop_id"] == original["shop_id"]
    assert "replacement for after-sales case" in case["timeline"][0]["reason"]
    listed = await qc.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=qc.admin())
    assert len(listed.json()["items"]) == 2  # the order's item and its replacement
    [opened] = await qc.events.wait_for(
        lambda e: e.type == "xinren.qc.case_opened" and e.data.get("aftersale_case_id") == as_id
    )
    assert opened.key == order_id and opened.data["case_id"] == case["case_id"]
    assert await qc.outbox_count("xinren.qc.case_opened", order_id) == 2  # the order's and the replacement's

    # The warehouse's work queue shows it in the inbound lane, named as a replacement.
    queue = await qc.client.get(f"/v1/warehouses/{case['warehouse_id']}/queue", headers=qc.staff(case["warehouse_id"]))
    [queued] = [i for i in queue.json()["inbound"] if i["case_id"] == case["case_id"]]
    assert queued["aftersale_case_id"] == as_id

    wrong = await qc.arrive(case, "SF100")  # the order's first parcel is not the replacement
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "TRACKING_MISMATCH"
    assert (await qc.arrive(case, "SF-R1")).status_code == 200
    passed = await qc.verdict(case, "PASSED")
    assert passed.status_code == 200, passed.text
    certificate_no = passed.json()["certificate_no"]
    assert certificate_no and original["certificate_no"] and certificate_no != original["certificate_no"]
    dispatched = await qc.dispatch(case, tracking_no="SF-FWD-1")
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["dispatch"]["to"] == "BUYER"
    assert dispatched.json()["dispatch"]["address"] == BUYER_ADDRESS.model_dump()

    await qc.events.wait_for(lambda e: e.type == "xinren.qc.dispatched" and e.data.get("aftersale_case_id") == as_id)
    events = qc.events.envelopes(lambda e: e.key == order_id and e.data.get("aftersale_case_id") == as_id)
    assert [e.type for e in events if e.type in REPLACEMENT_TYPES] == [
        "xinren.qc.case_opened",
        "xinren.qc.item_received",
        "xinren.qc.passed",
        "xinren.qc.dispatched",
    ]
    assert all(e.data["case_id"] == case["case_id"] for e in events)
    assert events[2].data["certificate_no"] == certificate_no
    assert (events[3].data["to"], events[3].data["tracking_no"]) == ("BUYER", "SF-FWD-1")

    # The order's own case is untouched; the certificate of the replacement verifies publicly.
    again = await qc.client.get(f"/v1/qc/cases/{original['case_id']}", headers=qc.admin())
    assert again.json()["status"] == "DISPATCHED" and again.json()["aftersale_case_id"] is None
    cert = await qc.client.get(f"/v1/certificates/{certificate_no}")
    assert cert.status_code == 200 and cert.json()["order_id"] == order_id


async def test_a_failed_replacement_goes_back_to_the_seller_and_the_next_parcel_is_a_new_inspection(qc):
    original = await _delivered_case(qc)
    order_id, as_id = original["order_id"], rid("as")
    await qc.publish(replacement_shipped(original, as_id, "SF-R1"), source=REFUND_SOURCE)
    first = await _replacement_case(qc, order_id, as_id, "SF-R1", "IN_TRANSIT")
    assert (await qc.arrive(first, "SF-R1")).status_code == 200
    assert (await qc.verdict(first, "FAILED", "DAMAGED")).status_code == 200
    [failed] = await qc.events.wait_for(
        lambda e: e.type == "xinren.qc.failed" and e.data.get("aftersale_case_id") == as_id
    )
    assert failed.data["case_id"] == first["case_id"] and failed.data["reason"] == "DAMAGED"
    back = await qc.dispatch(first, tracking_no="SF-BACK-1")
    assert back.status_code == 200 and back.json()["dispatch"]["to"] == "SELLER"
    assert back.json()["dispatch"]["address"] == RETURN_ADDRESS.model_dump()

    # The warehouse's own shipment on (status REPLACEMENT_SHIPPED) and a product without QC open nothing.
    ignored = await qc.publish(
        replacement_shipped(original, as_id, "SF-FWD-X", status=AfterSaleStatus.REPLACEMENT_SHIPPED),
        replacement_shipped(original, rid("as"), "SF-NOQC", qc_required=False),
        source=REFUND_SOURCE,
    )
    # The seller ships another: a new case for the new parcel.
    second_sent = await qc.publish(replacement_shipped(original, as_id, "SF-R2"), source=REFUND_SOURCE)
    await qc.await_handled(ignored + second_sent)
    second = await _replacement_case(qc, order_id, as_id, "SF-R2", "IN_TRANSIT")
    assert second["case_id"] != first["case_id"]
    listed = await qc.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=qc.admin())
    assert len(listed.json()["items"]) == 3
    assert (await qc.arrive(second, "SF-R2")).status_code == 200
    assert (await qc.verdict(second, "PASSED")).status_code == 200
    assert (await qc.dispatch(second, tracking_no="SF-FWD-2")).status_code == 200
    [sent_on] = await qc.events.wait_for(
        lambda e: e.type == "xinren.qc.dispatched" and e.data.get("case_id") == second["case_id"]
    )
    assert (sent_on.data["to"], sent_on.data["aftersale_case_id"]) == ("BUYER", as_id)
