"""Who may do what: warehouse scoping, roles, ownership of reads; clear 4xx errors that change nothing."""

import uuid

from xinren_shared.testing.http import bearer

from ..support import SECRET, category, rid


async def test_another_warehouse_cannot_act_on_or_see_a_case_and_a_verdict_before_arrival_is_409(qc):
    cat = category()
    mine = await qc.warehouse(cat)
    theirs = await qc.warehouse(category())
    case = await qc.open_case(cat)
    url = f"/v1/qc/cases/{case['case_id']}"

    # An inspector of another warehouse: 403 on the verdict; their staff: 403 on arrival, 404 on reading.
    r = await qc.verdict(case, headers=qc.inspector(theirs["warehouse_id"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "OTHER_WAREHOUSE"
    r = await qc.client.post(f"{url}/arrival", json={"tracking_no": "SF1"}, headers=qc.staff(theirs["warehouse_id"]))
    assert r.status_code == 403
    assert (await qc.client.get(url, headers=qc.staff(theirs["warehouse_id"]))).status_code == 404
    assert (await qc.client.get(url, headers=qc.inspector(theirs["warehouse_id"]))).status_code == 404
    listed = await qc.client.get("/v1/qc/cases", headers=qc.inspector(theirs["warehouse_id"]))
    assert case["case_id"] not in {c["case_id"] for c in listed.json()["items"]}
    r = await qc.client.get(
        "/v1/qc/cases", params={"warehouse_id": mine["warehouse_id"]}, headers=qc.staff(theirs["warehouse_id"])
    )
    assert r.status_code == 403
    own = await qc.client.get("/v1/qc/cases", headers=qc.staff(mine["warehouse_id"]))
    assert [c["case_id"] for c in own.json()["items"]] == [case["case_id"]]

    # The right inspector, but the item has not arrived: 409 with the current status.
    r = await qc.verdict(case)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "ILLEGAL_TRANSITION"
    assert r.json()["error"]["details"]["current_status"] == "AWAITING_INBOUND"
    # Wrong roles for each step: staff cannot judge, inspectors cannot receive or dispatch.
    assert (await qc.verdict(case, headers=qc.staff(mine["warehouse_id"]))).status_code == 403
    r = await qc.client.post(f"{url}/arrival", json={"tracking_no": "SF1"}, headers=qc.inspector(mine["warehouse_id"]))
    assert r.status_code == 403
    assert (await qc.dispatch(case)).status_code == 409  # nothing to dispatch yet

    after = (await qc.client.get(url, headers=qc.admin())).json()
    assert after["status"] == "AWAITING_INBOUND" and after["verdict"] is None and len(after["timeline"]) == 1
    assert await qc.outbox_count("xinren.qc.passed", case["order_id"]) == 0


async def test_buyers_and_sellers_read_only_cases_of_their_own_orders(qc):
    cat = category()
    await qc.warehouse(cat)
    buyer_id, shop_id = rid("u"), rid("shop")
    case = await qc.open_case(cat, buyer_id=buyer_id, shop_id=shop_id)
    url, order = f"/v1/qc/cases/{case['case_id']}", {"order_id": case["order_id"]}

    for own in (qc.buyer(buyer_id), qc.seller(shop_id)):
        assert (await qc.client.get(url, headers=own)).status_code == 200
        listed = await qc.client.get("/v1/qc/cases", params=order, headers=own)
        assert [c["case_id"] for c in listed.json()["items"]] == [case["case_id"]]
        r = await qc.client.get("/v1/qc/cases", headers=own)
        assert r.status_code == 422 and r.json()["error"]["code"] == "ORDER_ID_REQUIRED"
    for stranger in (qc.buyer("someone-else"), qc.seller("another-shop")):
        assert (await qc.client.get(url, headers=stranger)).status_code == 404
        assert (await qc.client.get("/v1/qc/cases", params=order, headers=stranger)).json()["items"] == []
    host = bearer(SECRET, "host", "host-1")
    assert (await qc.client.get(url, headers=host)).status_code == 403
    assert (await qc.client.get(url)).status_code == 401
    assert (await qc.client.get("/v1/qc/cases/qc_nope", headers=qc.admin())).status_code == 404
    # Buyers cannot act on the case either.
    r = await qc.client.post(f"{url}/arrival", json={"tracking_no": "x"}, headers=qc.buyer(buyer_id))
    assert r.status_code == 403


async def test_warehouses_are_created_by_admins_only_with_valid_bodies_and_listed_by_pages(qc):
    body = {"name": "Suzhou silk & jade", "address": "Suzhou", "categories": [category()]}
    assert (await qc.client.post("/v1/warehouses", json=body, headers=qc.seller("s1"))).status_code == 403
    assert (await qc.client.post("/v1/warehouses", json=body)).status_code == 401
    for bad in (
        {**body, "categories": []},
        {**body, "name": ""},
        {"name": "x", "address": "y"},
        {**body, "warehouse_id": "has space"},
        {**body, "extra": 1},
    ):
        r = await qc.client.post("/v1/warehouses", json=bad, headers=qc.admin())
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR", bad

    wid = f"wh_{uuid.uuid4().hex[:8]}"
    cat = category()
    created = await qc.client.post(
        "/v1/warehouses", json={**body, "warehouse_id": wid, "categories": [cat, cat]}, headers=qc.admin()
    )
    assert (
        created.status_code == 201 and created.json()["warehouse_id"] == wid and created.json()["categories"] == [cat]
    )
    dup = await qc.client.post("/v1/warehouses", json={**body, "warehouse_id": wid}, headers=qc.admin())
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "WAREHOUSE_EXISTS"
    # Idempotency-Key: the same request again answers the first response; another body with that key is 422.
    key = {"Idempotency-Key": uuid.uuid4().hex, **qc.admin()}
    first = await qc.client.post("/v1/warehouses", json={**body, "categories": [cat]}, headers=key)
    again = await qc.client.post("/v1/warehouses", json={**body, "categories": [cat]}, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert (await qc.client.post("/v1/warehouses", json=body, headers=key)).status_code == 422

    got = await qc.client.get(f"/v1/warehouses/{wid}", headers=qc.staff("any"))
    assert got.status_code == 200 and got.json()["name"] == "Suzhou silk & jade"
    assert (await qc.client.get("/v1/warehouses/wh_missing", headers=qc.admin())).status_code == 404

    seen, cursor = [], None
    while True:
        params = {"limit": 1, "category": cat} | ({"cursor": cursor} if cursor else {})
        page = (await qc.client.get("/v1/warehouses", params=params, headers=qc.admin())).json()
        seen += [w["warehouse_id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([wid, first.json()["warehouse_id"]]) and len(seen) == 2
    assert (await qc.client.get("/v1/warehouses", params={"limit": 500}, headers=qc.admin())).status_code == 422
    assert (await qc.client.get("/v1/warehouses", params={"cursor": "@@"}, headers=qc.admin())).status_code == 400


async def test_case_lists_page_by_cursor_and_filter_by_status(qc):
    cat = category()
    wh = await qc.warehouse(cat)
    cases = [await qc.open_case(cat) for _ in range(3)]
    assert (await qc.arrive(cases[0])).status_code == 200
    staff = qc.staff(wh["warehouse_id"])
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await qc.client.get("/v1/qc/cases", params=params, headers=staff)).json()
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["case_id"] for c in reversed(cases)]  # newest first, each once
    inspecting = await qc.client.get("/v1/qc/cases", params={"status": "IN_INSPECTION"}, headers=staff)
    assert [c["case_id"] for c in inspecting.json()["items"]] == [cases[0]["case_id"]]
    assert (await qc.client.get("/v1/qc/cases", params={"status": "NOPE"}, headers=staff)).status_code == 422
    assert (await qc.client.get("/v1/qc/cases", params={"cursor": "bm90LWEtbGlzdA"}, headers=staff)).status_code == 400


async def test_verdict_bodies_are_validated_and_repeats_are_safe(qc):
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    assert (await qc.arrive(case)).status_code == 200
    assert (await qc.arrive(case)).status_code == 200  # the same arrival again is a no-op
    assert (await qc.arrive(case, tracking_no="OTHER")).status_code == 409
    url = f"/v1/qc/cases/{case['case_id']}/verdict"
    inspector = qc.inspector(case["warehouse_id"])
    for bad in (
        {"result": "FAILED", "findings": "fake"},  # no reason
        {"result": "PASSED", "failure_reason": "DAMAGED", "findings": "ok"},
        {"result": "FAILED", "failure_reason": "COUNTERFEIT", "findings": ""},
        {"result": "MAYBE", "findings": "?"},
        {"result": "PASSED", "findings": "ok", "photos": ["not a url"]},
    ):
        r = await qc.client.post(url, json=bad, headers=inspector)
        assert r.status_code == 422, (bad, r.text)

    first = await qc.verdict(case)
    again = await qc.verdict(case)
    assert first.status_code == again.status_code == 200
    assert first.json()["certificate_no"] == again.json()["certificate_no"]
    other = await qc.verdict(case, "FAILED", "DAMAGED")
    assert other.status_code == 409 and other.json()["error"]["details"]["current_status"] == "PASSED"
    assert await qc.outbox_count("xinren.qc.passed", case["order_id"]) == 1
    assert await qc.outbox_count("xinren.qc.failed", case["order_id"]) == 0
    # Dispatch with an Idempotency-Key retried: one dispatch, one event.
    key = {"Idempotency-Key": uuid.uuid4().hex, **qc.staff(case["warehouse_id"])}
    body = {"carrier": "SF", "tracking_no": "SF9"}
    a = await qc.client.post(f"/v1/qc/cases/{case['case_id']}/dispatch", json=body, headers=key)
    b = await qc.client.post(f"/v1/qc/cases/{case['case_id']}/dispatch", json=body, headers=key)
    assert a.status_code == b.status_code == 200 and b.headers.get("idempotent-replayed") == "true"
    r = await qc.client.post(
        f"/v1/qc/cases/{case['case_id']}/dispatch",
        json={"carrier": "EMS", "tracking_no": "E1"},
        headers=qc.staff(case["warehouse_id"]),
    )
    assert r.status_code == 409
    assert await qc.outbox_count("xinren.qc.dispatched", case["order_id"]) == 1
