"""Cases from order.paid to dispatch, with the events in order and the public certificate."""

import re
from datetime import UTC, datetime, timedelta

from ..support import ORDER_SOURCE, cancelled, category, paid, rid, shipped

QC_TYPES = (
    "xinren.qc.case_opened",
    "xinren.qc.item_received",
    "xinren.qc.passed",
    "xinren.qc.failed",
    "xinren.qc.dispatched",
)


async def test_order_paid_opens_one_case_at_a_warehouse_of_its_category_even_when_delivered_twice(qc):
    cat = category()
    jade = await qc.warehouse(cat, category(), name="Jade house")
    await qc.warehouse(category(), name="Not for jade")
    order_id, buyer_id, shop_id = rid("ord"), rid("u"), rid("shop")
    event = paid(order_id, cat, buyer_id=buyer_id, shop_id=shop_id)
    before = datetime.now(UTC)
    # The same record twice (a redelivery), and the same fact again under a new event id (a producer retry).
    first = await qc.publish(event, source=ORDER_SOURCE)
    await qc.publish(first[0], event, source=ORDER_SOURCE)
    # order.shipped has the same key, so once it is handled every order.paid before it has been too.
    last = await qc.publish(shipped(order_id, jade["warehouse_id"]), source=ORDER_SOURCE)
    await qc.await_handled(last)

    opened = await qc.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id)
    assert await qc.outbox_count("xinren.qc.case_opened", order_id) == 1
    data = opened[0].data
    assert data["warehouse_id"] == jade["warehouse_id"]
    assert data["warehouse_address"] == "1 Jiegao Road, Ruili, Yunnan"
    assert (data["buyer_id"], data["shop_id"]) == (buyer_id, shop_id)
    deadline = datetime.fromisoformat(data["inbound_deadline"])
    assert before + timedelta(days=5) - timedelta(minutes=1) < deadline < datetime.now(UTC) + timedelta(days=5)

    r = await qc.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=qc.admin())
    assert [c["order_id"] for c in r.json()["items"]] == [order_id]
    case = r.json()["items"][0]
    assert case["case_id"] == data["case_id"] and case["status"] == "IN_TRANSIT"
    assert case["inbound_shipment"] == {"carrier": "SF", "tracking_no": "SF100"}
    assert case["items"][0]["title"] == "Burmese jadeite bangle" and case["shop_id"] == shop_id
    assert [t["status"] for t in case["timeline"]] == ["AWAITING_INBOUND", "IN_TRANSIT"]


async def test_routing_prefers_the_least_loaded_warehouse_then_the_smallest_id(qc):
    cat = category()
    a = await qc.client.post(
        "/v1/warehouses",
        json={"warehouse_id": f"wh-a-{cat}", "name": "A", "address": "A road", "categories": [cat]},
        headers=qc.admin(),
    )
    b = await qc.client.post(
        "/v1/warehouses",
        json={"warehouse_id": f"wh-b-{cat}", "name": "B", "address": "B road", "categories": [cat.upper()]},
        headers=qc.admin(),
    )
    assert (a.status_code, b.status_code) == (201, 201)
    first = await qc.open_case(cat)
    second = await qc.open_case(cat)
    third = await qc.open_case(cat, warehouse_id=f"wh-b-{cat}")  # the order service's hint, when it fits, wins
    assert (first["warehouse_id"], second["warehouse_id"], third["warehouse_id"]) == (
        f"wh-a-{cat}",
        f"wh-b-{cat}",
        f"wh-b-{cat}",
    )
    listed = await qc.client.get("/v1/warehouses", params={"category": cat}, headers=qc.buyer("anyone"))
    assert {w["warehouse_id"]: w["open_cases"] for w in listed.json()["items"]} == {f"wh-a-{cat}": 1, f"wh-b-{cat}": 2}


async def test_happy_path_arrival_pass_dispatch_emits_events_in_order_and_a_public_certificate(qc):
    cat = category()
    await qc.warehouse(cat, name="Ruili jade inspection centre")
    buyer_id, shop_id = rid("u"), rid("shop")
    case = await qc.open_case(cat, buyer_id=buyer_id, shop_id=shop_id)
    order_id = case["order_id"]

    r = await qc.arrive(case)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "IN_INSPECTION" and r.json()["arrived_at"]
    async with qc.runtime.transaction() as s:  # arrival cancelled the inbound deadline
        assert await qc.runtime.timers.pending(s, "qc_inbound_deadline", case["case_id"]) is None

    r = await qc.verdict(case, "PASSED", headers=qc.inspector(case["warehouse_id"], sub="insp-wang"))
    assert r.status_code == 200, r.text
    body = r.json()
    certificate_no = body["certificate_no"]
    assert body["status"] == "PASSED" and re.fullmatch(r"XR-[A-Z2-7]{24}", certificate_no)
    assert body["verdict"]["inspector_id"] == "insp-wang" and body["verdict"]["photos"] == ["https://img.example/1.jpg"]

    r = await qc.dispatch(case)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "DISPATCHED" and r.json()["dispatch"]["to"] == "BUYER"

    await qc.events.wait_for(lambda e: e.type == "xinren.qc.dispatched" and e.key == order_id)
    events = qc.events.envelopes(lambda e: e.key == order_id and e.type in QC_TYPES)
    assert [e.type for e in events] == [
        "xinren.qc.case_opened",
        "xinren.qc.item_received",
        "xinren.qc.passed",
        "xinren.qc.dispatched",
    ]
    assert all(
        e.data["case_id"] == case["case_id"] and e.data["buyer_id"] == buyer_id and e.data["shop_id"] == shop_id
        for e in events
    )
    assert events[2].data["certificate_no"] == certificate_no
    assert (events[3].data["to"], events[3].data["carrier"], events[3].data["tracking_no"]) == ("BUYER", "SF", "SF200")

    # Anyone verifies the certificate without a token, and learns nothing private.
    r = await qc.client.get(f"/v1/certificates/{certificate_no}")
    assert r.status_code == 200, r.text
    cert = r.json()
    assert cert["certificate_no"] == certificate_no and cert["order_id"] == order_id and cert["verdict"] == "PASSED"
    assert cert["items"] == [{"title": "Burmese jadeite bangle", "category": cat}]
    assert cert["warehouse"] == {"warehouse_id": case["warehouse_id"], "name": "Ruili jade inspection centre"}
    assert cert["inspector"] == {"inspector_id": "insp-wang"} and cert["issued_at"] and cert["dispatched"] is True
    assert buyer_id not in r.text and shop_id not in r.text and "6000000" not in r.text
    assert not {"buyer_id", "address", "phone", "shipping_address", "paid_fen"} & set(cert)

    missing = await qc.client.get("/v1/certificates/XR-AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CERTIFICATE_NOT_FOUND"

    final = await qc.client.get(f"/v1/qc/cases/{case['case_id']}", headers=qc.buyer(buyer_id))
    assert [t["status"] for t in final.json()["timeline"]] == [
        "AWAITING_INBOUND",
        "IN_INSPECTION",
        "PASSED",
        "DISPATCHED",
    ]


async def test_a_case_no_warehouse_can_take_waits_visibly_and_is_routed_when_one_is_created(qc):
    cat = category()
    order_id = rid("ord")
    await qc.publish(paid(order_id, cat, buyer_id=rid("u"), shop_id=rid("shop")), source=ORDER_SOURCE)
    waiting = await qc.case_in(order_id, "AWAITING_ROUTING")
    assert waiting["warehouse_id"] is None and waiting["inbound_deadline"] is None
    assert cat in waiting["timeline"][0]["reason"]
    assert await qc.outbox_count("xinren.qc.case_opened", order_id) == 0
    listed = await qc.client.get("/v1/qc/cases", params={"status": "AWAITING_ROUTING"}, headers=qc.admin())
    assert waiting["case_id"] in {c["case_id"] for c in listed.json()["items"]}

    pearls = category()
    created = await qc.warehouse(pearls, cat.upper())
    assert created["routed_case_ids"] == [waiting["case_id"]] and created["open_cases"] == 1
    assert created["categories"] == [pearls, cat]
    opened = await qc.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id)
    assert opened[0].data["warehouse_id"] == created["warehouse_id"]
    case = await qc.case_of(order_id)
    assert case["status"] == "AWAITING_INBOUND" and case["inbound_deadline"]
    assert [t["status"] for t in case["timeline"]] == ["AWAITING_ROUTING", "AWAITING_INBOUND"]


async def test_an_admin_can_route_a_waiting_case_to_a_named_warehouse(qc):
    cat = category()
    other = await qc.warehouse(category())
    order_id = rid("ord")
    await qc.publish(paid(order_id, cat, buyer_id=rid("u"), shop_id=rid("shop")), source=ORDER_SOURCE)
    waiting = await qc.case_in(order_id, "AWAITING_ROUTING")
    url = f"/v1/qc/cases/{waiting['case_id']}/route"
    assert (
        await qc.client.post(url, json={"warehouse_id": other["warehouse_id"]}, headers=qc.staff(other["warehouse_id"]))
    ).status_code == 403
    assert (await qc.client.post(url, json={"warehouse_id": "wh_nowhere"}, headers=qc.admin())).status_code == 422
    r = await qc.client.post(url, json={"warehouse_id": other["warehouse_id"]}, headers=qc.admin())
    assert r.status_code == 200 and r.json()["status"] == "AWAITING_INBOUND"
    again = await qc.client.post(url, json={"warehouse_id": other["warehouse_id"]}, headers=qc.admin())
    assert again.status_code == 200  # the same request again changes nothing
    await qc.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id)
    assert await qc.outbox_count("xinren.qc.case_opened", order_id) == 1


async def test_order_cancelled_before_arrival_closes_the_case_and_its_deadline(qc):
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    order_id = case["order_id"]
    await qc.publish(shipped(order_id, case["warehouse_id"]), source=ORDER_SOURCE)
    await qc.case_in(order_id, "IN_TRANSIT")
    sent = await qc.publish(paid(order_id, cat, buyer_id="x", shop_id="y"), source=ORDER_SOURCE)  # a late duplicate
    await qc.publish(shipped(order_id, case["warehouse_id"], tracking_no="OTHER"), source=ORDER_SOURCE)
    done = await qc.publish(cancelled(order_id), source=ORDER_SOURCE)
    await qc.await_handled(sent + done)
    closed = await qc.case_of(order_id)
    assert closed["status"] == "CANCELLED" and closed["buyer_id"] != "x"
    assert closed["inbound_shipment"]["tracking_no"] == "SF100"
    assert "order cancelled by buyer" in closed["timeline"][-1]["reason"]
    async with qc.runtime.transaction() as s:
        assert await qc.runtime.timers.pending(s, "qc_inbound_deadline", case["case_id"]) is None
    r = await qc.arrive(case)
    assert r.status_code == 409 and r.json()["error"]["details"]["current_status"] == "CANCELLED"


async def test_events_about_unknown_orders_or_after_arrival_change_nothing(qc):
    stray = await qc.publish(shipped(rid("ord"), "wh_x"), cancelled(rid("ord")), source=ORDER_SOURCE)
    not_qc = paid(rid("ord"), category(), buyer_id="u", shop_id="s")
    not_qc.qc_required = False
    stray += await qc.publish(not_qc, source=ORDER_SOURCE)
    await qc.await_handled(stray)  # handled (not dead-lettered) and nothing opened
    assert await qc.case_of(not_qc.order_id) is None

    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    assert (await qc.arrive(case)).status_code == 200  # arrival may come before order.shipped
    late = await qc.publish(
        shipped(case["order_id"], case["warehouse_id"]), cancelled(case["order_id"]), source=ORDER_SOURCE
    )
    await qc.await_handled(late)
    after = await qc.case_of(case["order_id"])
    assert after["status"] == "IN_INSPECTION"
    assert [t["status"] for t in after["timeline"]] == ["AWAITING_INBOUND", "IN_INSPECTION"]


async def test_an_order_asking_again_hears_of_the_case_it_missed(qc):
    cat = category()
    await qc.warehouse(cat, name="Jade house")
    order_id = rid("ord")
    event = paid(order_id, cat, buyer_id=rid("u"), shop_id=rid("shop"))
    await qc.await_handled(await qc.publish(event, source=ORDER_SOURCE))
    # The order service's consistency repair: order.paid again with `reask` (it never heard of the case).
    await qc.await_handled(await qc.publish(event.model_copy(update={"reask": True}), source=ORDER_SOURCE))
    opened = await qc.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id, count=2)
    assert opened[0].data == opened[1].data and opened[0].id != opened[1].id
    r = await qc.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=qc.admin())
    assert len(r.json()["items"]) == 1  # one case, announced twice
