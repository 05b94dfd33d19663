"""Addresses on the case: from order.paid, shown per field to who needs them, used by the dispatch."""

from ..support import BUYER_ADDRESS, ORDER_SOURCE, RETURN_ADDRESS, category, paid, rid

BUYER, SHOP = BUYER_ADDRESS.model_dump(), RETURN_ADDRESS.model_dump()
ELSEWHERE = {**SHOP, "line1": "仓库路 2 号", "name": "林氏翡翠新仓"}


async def _get(qc, case: dict, headers: dict) -> dict:
    r = await qc.client.get(f"/v1/qc/cases/{case['case_id']}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _judged(qc, result: str = "PASSED", reason: str | None = None, **paid_kw) -> dict:
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat, **paid_kw)
    assert (await qc.arrive(case)).status_code == 200
    r = await qc.verdict(case, result, reason)
    assert r.status_code == 200, r.text
    return r.json()


async def test_each_reader_sees_the_addresses_it_needs_and_no_other(qc):
    case = await _judged(qc)
    wid = case["warehouse_id"]
    for staff in (qc.admin(), qc.staff(wid), qc.inspector(wid)):
        seen = await _get(qc, case, staff)
        assert (seen["shipping_address"], seen["return_address"]) == (BUYER, SHOP)
    as_buyer = await _get(qc, case, qc.buyer(case["buyer_id"]))
    assert (as_buyer["shipping_address"], as_buyer["return_address"]) == (BUYER, None)
    as_seller = await _get(qc, case, qc.seller(case["shop_id"]))
    assert (as_seller["shipping_address"], as_seller["return_address"]) == (None, SHOP)
    # The same rule in lists.
    seller = qc.seller(case["shop_id"])
    listed = await qc.client.get("/v1/qc/cases", params={"order_id": case["order_id"]}, headers=seller)
    assert listed.json()["items"][0]["shipping_address"] is None
    assert listed.json()["items"][0]["return_address"] == SHOP
    # And never on the public certificate.
    cert = await qc.client.get(f"/v1/certificates/{case['certificate_no']}")
    assert cert.status_code == 200 and BUYER["line1"] not in cert.text and SHOP["line1"] not in cert.text


async def test_a_passed_item_is_dispatched_to_the_buyers_address(qc):
    case = await _judged(qc)
    r = await qc.dispatch(case)
    assert r.status_code == 200, r.text
    assert r.json()["dispatch"]["to"] == "BUYER" and r.json()["dispatch"]["address"] == BUYER
    assert (await _get(qc, case, qc.buyer(case["buyer_id"])))["dispatch"]["address"] == BUYER
    # The seller reads the dispatch, not where the buyer lives.
    assert (await _get(qc, case, qc.seller(case["shop_id"])))["dispatch"]["address"] is None


async def test_a_known_address_cannot_be_redirected_by_the_dispatch(qc):
    case = await _judged(qc)
    r = await qc.dispatch(case, address=ELSEWHERE)
    assert r.status_code == 409 and r.json()["error"]["code"] == "DISPATCH_ADDRESS_CONFLICT", r.text
    assert (await _get(qc, case, qc.admin()))["status"] == "PASSED"
    assert (await qc.dispatch(case, address=BUYER)).status_code == 200  # naming the same address is fine


async def test_a_failed_item_goes_back_to_the_shops_return_address(qc):
    case = await _judged(qc, "FAILED", "NOT_AS_DESCRIBED")
    r = await qc.dispatch(case)
    assert r.status_code == 200, r.text
    assert r.json()["dispatch"]["to"] == "SELLER" and r.json()["dispatch"]["address"] == SHOP
    assert (await _get(qc, case, qc.seller(case["shop_id"])))["dispatch"]["address"] == SHOP
    assert (await _get(qc, case, qc.buyer(case["buyer_id"])))["dispatch"]["address"] is None


async def test_a_shop_without_a_return_address_cannot_get_a_failed_item_back_until_one_is_named(qc):
    case = await _judged(qc, "FAILED", "DAMAGED", return_address=None)
    assert (await _get(qc, case, qc.admin()))["return_address"] is None
    r = await qc.dispatch(case)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "RETURN_ADDRESS_MISSING" and "退货地址" in error["message"]  # Chinese by default
    after = await _get(qc, case, qc.admin())
    assert after["status"] == "FAILED" and after["dispatch"] is None and len(after["timeline"]) == len(case["timeline"])
    assert await qc.outbox_count("xinren.qc.dispatched", case["order_id"]) == 0
    # A malformed address changes nothing either.
    bad = await qc.dispatch(case, address={**ELSEWHERE, "phone": "call me"})
    assert bad.status_code == 422
    # The warehouse names the address the shop gave it: the item goes there, and the case records it.
    sent = await qc.dispatch(case, address=ELSEWHERE)
    assert sent.status_code == 200, sent.text
    assert sent.json()["dispatch"]["address"] == ELSEWHERE and sent.json()["status"] == "DISPATCHED"
    assert (await qc.dispatch(case, address=ELSEWHERE)).status_code == 200  # the same dispatch again
    assert await qc.outbox_count("xinren.qc.dispatched", case["order_id"]) == 1


async def test_a_redelivered_order_paid_keeps_the_addresses_of_the_first(qc):
    cat = category()
    await qc.warehouse(cat)
    case = await qc.open_case(cat)
    later = paid(case["order_id"], cat, buyer_id=rid("u"), shop_id=rid("shop"), return_address=None)
    await qc.await_handled(await qc.publish(later, source=ORDER_SOURCE))
    assert (await _get(qc, case, qc.admin()))["return_address"] == SHOP
