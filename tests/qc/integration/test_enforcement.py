"""Failures and expiries: qc.failed / qc.expired and strikes recorded once per case. Quality check never suspends a
shop any more (the trust service's ladder does): qc.shop_suspended is not published, however many strikes."""

import asyncio

from ..support import ORDER_SOURCE, category, rid, shipped

DEPRECATED_NULL = {"status": None, "suspended_at": None, "strikes_at_suspension": None, "threshold": None}


async def _counterfeit(qc, cat: str, shop_id: str, **kw) -> dict:
    case = await qc.open_case(cat, shop_id=shop_id, **kw)
    assert (await qc.arrive(case)).status_code == 200
    r = await qc.verdict(case, "FAILED", "COUNTERFEIT")
    assert r.status_code == 200, r.text
    return r.json()


async def test_counterfeits_are_recorded_as_strikes_and_never_suspend_the_shop(qc):
    cat = category()
    await qc.warehouse(cat)
    shop_id = rid("shop")
    seller = qc.seller(shop_id)

    host_id = rid("host")
    first = await _counterfeit(qc, cat, shop_id, host_id=host_id)
    assert first["status"] == "FAILED" and first["certificate_no"] is None
    assert first["verdict"]["failure_reason"] == "COUNTERFEIT"
    failed = await qc.events.wait_for(lambda e: e.type == "xinren.qc.failed" and e.key == first["order_id"])
    assert failed[0].data["reason"] == "COUNTERFEIT" and failed[0].data["findings"] == "COUNTERFEIT: see photos"
    assert failed[0].data["shop_id"] == shop_id and failed[0].data["buyer_id"] == first["buyer_id"]
    # What order.paid told of the item, for a consumer that has not seen the order's own events (the trust service).
    assert failed[0].data["host_id"] == host_id
    assert failed[0].data["sku_ids"] == [item["sku_id"] for item in first["items"]]

    # A failed item goes back to the seller.
    r = await qc.dispatch(first)
    assert r.status_code == 200 and r.json()["dispatch"]["to"] == "SELLER"
    sent_back = await qc.events.wait_for(lambda e: e.type == "xinren.qc.dispatched" and e.key == first["order_id"])
    assert sent_back[0].data["to"] == "SELLER"

    # Damage or a mismatch is refunded, but it is not a strike.
    damaged = await qc.open_case(cat, shop_id=shop_id)
    assert (await qc.arrive(damaged)).status_code == 200
    assert (await qc.verdict(damaged, "FAILED", "DAMAGED")).status_code == 200

    strikes = (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=seller)).json()
    assert strikes["active_strikes"] == 1 and {k: strikes[k] for k in DEPRECATED_NULL} == DEPRECATED_NULL
    assert [(s["case_id"], s["reason"], s["active"]) for s in strikes["strikes"]] == [
        (first["case_id"], "COUNTERFEIT", True)
    ]

    # Three more (past the old threshold of three): four strikes, and still no suspension from quality check.
    later = [await _counterfeit(qc, cat, shop_id) for _ in range(3)]
    await qc.events.wait_for(lambda e: e.type == "xinren.qc.failed" and e.key == later[-1]["order_id"])
    assert await qc.outbox_count("xinren.qc.shop_suspended", shop_id) == 0
    assert qc.events.envelopes(lambda e: e.type == "xinren.qc.shop_suspended" and e.key == shop_id) == []

    record = (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.admin())).json()
    assert record["active_strikes"] == 4 and len(record["strikes"]) == 4
    assert {k: record[k] for k in DEPRECATED_NULL} == DEPRECATED_NULL
    assert {c["case_id"] for c in later} <= {s["case_id"] for s in record["strikes"]}

    assert (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.seller("other-shop"))).status_code == 403
    assert (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.buyer("u1"))).status_code == 403
    clean = (await qc.client.get("/v1/shops/never-struck/strikes", headers=qc.admin())).json()
    assert clean == {"shop_id": "never-struck", "active_strikes": 0, "window_days": 90.0, "strikes": []} | (
        DEPRECATED_NULL
    )


async def test_a_missed_inbound_deadline_expires_the_case_once_with_a_strike(qc_fast):
    qc = qc_fast  # inbound deadline 4 s
    cat = category()
    await qc.warehouse(cat)
    shop_id = rid("shop")
    # Opened first, so due first: it arrives in time and must never expire.
    on_time = await qc.open_case(cat, shop_id=shop_id)
    in_transit = await qc.open_case(cat, shop_id=shop_id)
    assert (await qc.arrive(on_time)).status_code == 200
    await qc.publish(shipped(in_transit["order_id"], in_transit["warehouse_id"]), source=ORDER_SOURCE)
    await qc.case_in(in_transit["order_id"], "IN_TRANSIT")

    expired = await qc.events.wait_for(
        lambda e: e.type == "xinren.qc.expired" and e.key == in_transit["order_id"], timeout=30
    )
    assert expired[0].data["case_id"] == in_transit["case_id"] and expired[0].data["shop_id"] == shop_id
    case = await qc.case_of(in_transit["order_id"])
    assert case["status"] == "EXPIRED" and case["timeline"][-1]["actor"] == "system"
    assert (await qc.case_of(on_time["order_id"]))["status"] == "IN_INSPECTION"
    assert await qc.outbox_count("xinren.qc.expired", on_time["order_id"]) == 0
    assert await qc.outbox_count("xinren.qc.expired", in_transit["order_id"]) == 1

    # Too late: the warehouse cannot receive an expired case; nothing changes.
    r = await qc.arrive(case)
    assert r.status_code == 409 and r.json()["error"]["details"]["current_status"] == "EXPIRED"
    record = (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.admin())).json()
    assert [(s["case_id"], s["reason"]) for s in record["strikes"]] == [(in_transit["case_id"], "EXPIRED")]

    # A counterfeit on top is the second strike; both are kept, and nothing is suspended here.
    assert (await qc.verdict(on_time, "FAILED", "COUNTERFEIT")).status_code == 200
    await qc.events.wait_for(lambda e: e.type == "xinren.qc.failed" and e.key == on_time["order_id"])
    record = (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.admin())).json()
    assert {s["reason"] for s in record["strikes"]} == {"EXPIRED", "COUNTERFEIT"} and record["status"] is None
    assert await qc.outbox_count("xinren.qc.shop_suspended", shop_id) == 0


async def test_strikes_recorded_at_the_same_moment_are_each_kept_once(qc):
    cat = category()
    await qc.warehouse(cat)
    shop_id = rid("shop")
    cases = [await qc.open_case(cat, shop_id=shop_id) for _ in range(4)]
    for case in cases:
        assert (await qc.arrive(case)).status_code == 200
    verdicts = await asyncio.gather(
        *(
            qc.verdict(c, "FAILED", "COUNTERFEIT", headers=qc.inspector(c["warehouse_id"], sub=f"i{i}"))
            for i, c in enumerate(cases)
        )
    )
    assert [r.status_code for r in verdicts] == [200] * 4
    record = (await qc.client.get(f"/v1/shops/{shop_id}/strikes", headers=qc.admin())).json()
    assert sorted(s["case_id"] for s in record["strikes"]) == sorted(c["case_id"] for c in cases)
    assert record["active_strikes"] == 4 and await qc.outbox_count("xinren.qc.shop_suspended", shop_id) == 0
