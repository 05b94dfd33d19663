"""A counterfeit claim upheld on a certified item: the certificate is revoked, the error is the warehouse's and its
inspector's, and the shop gets no strike."""

from ..support import REFUND_SOURCE, category, rid, upheld


async def _certified(qc, cat: str, inspector: str = "insp-1") -> dict:
    case = await qc.open_case(cat)
    assert (await qc.arrive(case)).status_code == 200
    r = await qc.verdict(case, headers=qc.inspector(case["warehouse_id"], sub=inspector))
    assert r.status_code == 200, r.text
    assert (await qc.dispatch(r.json())).status_code == 200
    return r.json()


async def _certificate(qc, number: str) -> dict:
    r = await qc.client.get(f"/v1/certificates/{number}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_an_upheld_counterfeit_claim_revokes_the_certificate_once_and_blames_the_warehouse(qc):
    cat = category()
    warehouse = await qc.warehouse(cat)
    wid = warehouse["warehouse_id"]
    case = await _certified(qc, cat, inspector="insp-chen")
    order_id, number = case["order_id"], case["certificate_no"]
    passed = await qc.events.wait_for(lambda e: e.type == "xinren.qc.passed" and e.key == order_id)
    assert passed[0].data["inspector_id"] == "insp-chen"
    before = await _certificate(qc, number.lower())  # numbers are looked up in any case
    assert before["status"] == "VALID" and before["revoked_at"] is None and before["certificate_no"] == number

    claim = upheld(case, aftersale_case_id=rid("as"))
    # The same record twice (a redelivery), and the same ruling again under a new event id.
    sent = await qc.publish(claim, source=REFUND_SOURCE)
    sent += await qc.publish(sent[0], claim, source=REFUND_SOURCE)
    await qc.await_handled(sent)

    after = await _certificate(qc, number)
    assert after["status"] == "REVOKED" and after["revoked_at"] and "counterfeit" in after["revocation_reason"]
    assert after["verdict"] == "PASSED"  # what the inspector said stays on record
    revoked = await qc.events.wait_for(lambda e: e.type == "xinren.qc.certificate_revoked" and e.key == order_id)
    data = revoked[0].data
    assert (data["certificate_no"], data["aftersale_case_id"]) == (number, claim.case_id)
    assert data["inspector_id"] == "insp-chen"
    assert (data["warehouse_id"], data["shop_id"], data["case_id"]) == (wid, case["shop_id"], case["case_id"])
    assert await qc.outbox_count("xinren.qc.certificate_revoked", order_id) == 1

    seen = await qc.client.get(f"/v1/qc/cases/{case['case_id']}", headers=qc.admin())
    assert seen.json()["certificate_status"] == "REVOKED" and seen.json()["status"] == "DISPATCHED"
    assert claim.case_id in seen.json()["timeline"][-1]["reason"]

    # One inspection error, against the warehouse and the inspector.
    errors = await qc.client.get(f"/v1/warehouses/{wid}/inspection-errors", headers=qc.staff(wid))
    assert errors.status_code == 200, errors.text
    [error] = errors.json()["items"]
    assert (error["case_id"], error["inspector_id"], error["warehouse_id"]) == (case["case_id"], "insp-chen", wid)
    assert (error["aftersale_case_id"], error["certificate_no"]) == (claim.case_id, number)
    assert (error["kind"], error["shop_id"]) == ("COUNTERFEIT_CERTIFIED", case["shop_id"])
    # And no strike against the shop.
    strikes = await qc.client.get(f"/v1/shops/{case['shop_id']}/strikes", headers=qc.admin())
    assert strikes.json()["strikes"] == [] and strikes.json()["active_strikes"] == 0


async def test_inspection_errors_are_read_by_the_platform_and_the_warehouse_only_a_page_at_a_time(qc):
    cat = category()
    wid = (await qc.warehouse(cat))["warehouse_id"]
    other = (await qc.warehouse(category()))["warehouse_id"]
    cases = [await _certified(qc, cat, inspector=who) for who in ("insp-a", "insp-b", "insp-a")]
    sent = []
    for case in cases:
        sent += await qc.publish(upheld(case), source=REFUND_SOURCE)
    await qc.await_handled(sent)
    url = f"/v1/warehouses/{wid}/inspection-errors"

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await qc.client.get(url, params=params, headers=qc.admin())
        assert page.status_code == 200, page.text
        seen += [e["case_id"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["case_id"] for c in reversed(cases)]  # newest first, each once
    mine = await qc.client.get(url, params={"inspector_id": "insp-a"}, headers=qc.staff(wid))
    assert {e["case_id"] for e in mine.json()["items"]} == {cases[0]["case_id"], cases[2]["case_id"]}

    first = cases[0]
    for headers in (qc.staff(other), qc.seller(first["shop_id"]), qc.buyer(first["buyer_id"]), qc.inspector(wid)):
        assert (await qc.client.get(url, headers=headers)).status_code == 403
    missing = await qc.client.get("/v1/warehouses/wh_nowhere/inspection-errors", headers=qc.admin())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "WAREHOUSE_NOT_FOUND"
    assert (await qc.client.get(url, params={"cursor": "bm90LWEtbGlzdA"}, headers=qc.admin())).status_code == 400


async def test_a_claim_naming_a_certificate_that_is_not_the_orders_changes_nothing(qc):
    cat = category()
    wid = (await qc.warehouse(cat))["warehouse_id"]
    case = await _certified(qc, cat)
    other = await _certified(qc, cat)
    stray = [upheld(case, "XR-NO-SUCH-CERTIFICATE"), upheld(case, other["certificate_no"])]
    await qc.await_handled(await qc.publish(*stray, source=REFUND_SOURCE))
    for c in (case, other):
        assert (await _certificate(qc, c["certificate_no"]))["status"] == "VALID"
    errors = await qc.client.get(f"/v1/warehouses/{wid}/inspection-errors", headers=qc.admin())
    assert errors.json()["items"] == []
    assert (await qc.client.get("/v1/certificates/XR-NO-SUCH-CERTIFICATE")).status_code == 404
