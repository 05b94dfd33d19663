"""After-sale cases through the API, against the real PostgreSQL and Kafka (the order service played by the test)."""

import asyncio
from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.orders import OrderCompensationPaid, OrderRefundRejected
from xinren_shared.contracts.vocabulary import TrustRight as TR
from xinren_shared.testing.http import bearer

from ..support import (
    ADMIN,
    ORDER_SOURCE,
    SECRET,
    about,
    buyer_headers,
    case_reaches,
    command,
    eventually,
    get_case,
    open_case,
    place_order,
    refunded,
    seller_headers,
    statuses,
    uid,
)


async def test_refund_before_shipment_is_paid_without_review_and_a_retried_post_returns_the_same_case(
    refund, publish, event_collector
):
    order = await place_order(refund, publish, paid_fen=12_800)
    key = uid("idem")
    first = await open_case(refund, order, key=key, reason="OTHER", description="拍错了")
    body = {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "description": "拍错了"}
    again = await refund.client.post("/v1/after-sales", json=body, headers=order.buyer | {"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["case_id"] == first["case_id"]
    other = await refund.client.post(
        "/v1/after-sales", json=body | {"amount_fen": 1}, headers=order.buyer | {"Idempotency-Key": key}
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert first["status"] == "REFUNDING" and first["amount_fen"] == 12_800
    assert first["rules_applied"] == ["BEFORE_SHIPMENT"]
    assert statuses(first) == ["REQUESTED", "APPROVED", "REFUNDING"]

    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=first["case_id"]))
    assert request.data == {
        "order_id": order.order_id,
        "case_id": first["case_id"],
        "amount_fen": 12_800,
        "buyer_id": order.buyer_id,
        "shop_id": order.shop_id,
        "refund_id": f"rf_{first['case_id']}",
    }
    assert await refund.outbox_count("xinren.aftersale.requested", order.order_id) == 1  # one case, one request

    await publish(refunded(order, request.data, refunded_total_fen=12_800), source=ORDER_SOURCE)
    done = await case_reaches(refund, first["case_id"], "REFUNDED")
    assert done["refunded_fen"] == 12_800
    await event_collector.wait_for(about("xinren.aftersale.refunded", case_id=first["case_id"]))
    for step in ("requested", "approved"):
        [evt] = await event_collector.wait_for(about(f"xinren.aftersale.{step}", case_id=first["case_id"]))
        assert evt.data["case_id"] == first["case_id"] and evt.data["buyer_id"] == order.buyer_id

    # Everything is refunded now: a further request is refused and changes nothing.
    refused = await open_case(refund, order, expect=422)
    assert refused["error"]["code"] == "AMOUNT_EXCEEDS_REFUNDABLE"
    assert refused["error"]["details"]["refundable_fen"] == 0


async def test_seven_day_return_goes_all_the_way_with_the_shipping_subsidy(refund, publish, event_collector):
    rights = [TR.SEVEN_DAY_RETURN, TR.RETURN_SHIPPING_SUBSIDY]
    order = await place_order(
        refund, publish, paid_fen=39_900, rights=rights, delivered_at=datetime.now(UTC) - timedelta(days=6)
    )
    case = await open_case(
        refund, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D", evidence=["https://img.example/1.jpg"]
    )
    assert case["status"] == "REQUESTED" and case["review_due_at"] is not None
    cid = case["case_id"]

    # The seller of another shop cannot see it; the buyer cannot approve it.
    unseen = await command(refund, cid, "approve", seller_headers(uid("shop")), expect=404)
    assert unseen["error"]["code"] == "CASE_NOT_FOUND"
    await command(refund, cid, "approve", order.buyer, expect=403)

    case = await command(refund, cid, "approve", order.seller, {"reason": "同意退货"})
    assert case["status"] == "AWAITING_RETURN"
    # Confirming receipt before anything was sent is a conflict that names the current status.
    err = await command(refund, cid, "return-received", order.seller, expect=409)
    assert err["error"]["details"]["current_status"] == "AWAITING_RETURN"

    case = await command(refund, cid, "return-shipment", order.buyer, {"carrier": "ZTO", "tracking_no": "ZT123"})
    assert case["status"] == "RETURN_SHIPPED" and case["return_shipment"] == {"carrier": "ZTO", "tracking_no": "ZT123"}
    case = await command(refund, cid, "return-received", order.seller)
    assert case["status"] == "REFUNDING"
    [subsidy] = case["compensations"]
    assert (subsidy["kind"], subsidy["payer"], subsidy["amount_fen"], subsidy["status"]) == (
        "RETURN_SHIPPING",
        "PLATFORM",
        refund.settings.return_shipping_subsidy_fen,
        "GRANTED",
    )

    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=cid))
    [grant] = await event_collector.wait_for(about("xinren.compensation.granted", case_id=cid))
    assert grant.data["compensation_id"] == subsidy["compensation_id"] and grant.data["payer"] == "PLATFORM"
    await publish(
        refunded(order, request.data, refunded_total_fen=39_900),
        OrderCompensationPaid(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            compensation_id=subsidy["compensation_id"],
            kind="RETURN_SHIPPING",
            amount_fen=subsidy["amount_fen"],
            payer="PLATFORM",
        ),
        source=ORDER_SOURCE,
    )
    done = await case_reaches(refund, cid, "REFUNDED")
    assert statuses(done) == [
        "REQUESTED",
        "APPROVED",
        "AWAITING_RETURN",
        "RETURN_SHIPPED",
        "RETURN_RECEIVED",
        "REFUNDING",
        "REFUNDING",
        "REFUNDED",
    ]  # the second REFUNDING entry records the subsidy granted

    async def subsidy_paid():
        r = await refund.client.get("/v1/compensations", params={"order_id": order.order_id}, headers=order.buyer)
        return [c for c in r.json()["items"] if c["status"] == "PAID"]

    [paid] = await eventually(subsidy_paid, what="the subsidy PAID")
    assert paid["compensation_id"] == subsidy["compensation_id"] and paid["paid_at"] is not None
    for step in ("requested", "approved", "return_shipped", "return_received", "refunded"):
        await event_collector.wait_for(about(f"xinren.aftersale.{step}", case_id=cid))


async def test_a_no_reason_return_on_day_eight_is_refused_and_nothing_is_written(refund, publish):
    order = await place_order(
        refund, publish, rights=[TR.SEVEN_DAY_RETURN], delivered_at=datetime.now(UTC) - timedelta(days=8)
    )
    err = await open_case(refund, order, expect=422, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    assert err["error"]["code"] == "WINDOW_CLOSED"
    listed = (
        await refund.client.get("/v1/after-sales", params={"order_id": order.order_id}, headers=order.buyer)
    ).json()
    assert listed["items"] == []
    assert await refund.outbox_count("xinren.aftersale.requested", order.order_id) == 0
    # Without the right there is no no-reason return at all.
    other = await place_order(refund, publish, rights=[], delivered_at=datetime.now(UTC) - timedelta(days=1))
    err = await open_case(refund, other, expect=422, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    assert err["error"]["code"] == "RIGHT_NOT_HELD"


async def test_fast_refund_and_refund_without_return_skip_review_and_the_return(refund, publish, event_collector):
    rights = [TR.FAST_REFUND, TR.REFUND_WITHOUT_RETURN, TR.RETURN_SHIPPING_SUBSIDY]
    order = await place_order(
        refund, publish, paid_fen=8_000, rights=rights, delivered_at=datetime.now(UTC) - timedelta(days=1)
    )
    case = await open_case(refund, order, type="RETURN_AND_REFUND", reason="QUALITY_ISSUE", amount_fen=3_000)
    assert case["status"] == "REFUNDING" and case["return_required"] is False
    assert set(case["rules_applied"]) == {"FAST_REFUND", "REFUND_WITHOUT_RETURN"}
    assert case["compensations"] == []  # nothing was sent back, so no postage to subsidise
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    assert request.data["amount_fen"] == 3_000

    # Above the fast-refund threshold the seller reviews, and a return is needed.
    rich = await place_order(
        refund, publish, paid_fen=90_000, rights=rights, delivered_at=datetime.now(UTC) - timedelta(days=1)
    )
    case = await open_case(refund, rich, type="RETURN_AND_REFUND", reason="QUALITY_ISSUE")
    assert (case["status"], case["return_required"], case["rules_applied"]) == ("REQUESTED", True, [])


async def test_two_concurrent_partial_requests_never_ask_for_more_than_was_paid(refund, publish, event_collector):
    order = await place_order(refund, publish, paid_fen=10_000)
    posts = [
        refund.client.post(
            "/v1/after-sales",
            json={"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "amount_fen": 6_000},
            headers=order.buyer,
        )
        for _ in range(2)
    ]
    answers = await asyncio.gather(*posts)
    assert sorted(r.status_code for r in answers) == [201, 422], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 422).json()
    assert (
        refused["error"]["code"] == "AMOUNT_EXCEEDS_REFUNDABLE"
        and refused["error"]["details"]["refundable_fen"] == 4_000
    )

    # Many at once: whatever the interleaving, the sum requested stays within the payment.
    bursts = await asyncio.gather(
        *[
            refund.client.post(
                "/v1/after-sales",
                json={"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "amount_fen": 1_500},
                headers=order.buyer,
            )
            for _ in range(4)
        ]
    )
    assert sorted(r.status_code for r in bursts) == [201, 201, 422, 422]
    created = {r.json()["case_id"] for r in [*answers, *bursts] if r.status_code == 201}
    requests = await event_collector.wait_for(
        lambda e: e.type == "xinren.refund.requested" and e.data["case_id"] in created, count=3
    )
    assert await refund.outbox_count("xinren.refund.requested", order.order_id) == 3
    assert sum(e.data["amount_fen"] for e in requests) == 9_000 <= order.paid_fen


async def test_a_refund_the_order_service_rejects_closes_the_case_with_its_reason_and_frees_the_amount(
    refund, publish, event_collector
):
    order = await place_order(refund, publish, paid_fen=5_000)
    case = await open_case(refund, order, amount_fen=5_000)
    [request] = await event_collector.wait_for(about("xinren.refund.requested", case_id=case["case_id"]))
    await publish(
        OrderRefundRejected(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            case_id=case["case_id"],
            amount_fen=5_000,
            refundable_fen=0,
            reason="EXCEEDS_REFUNDABLE",
            refund_id=request.data["refund_id"],
        ),
        source=ORDER_SOURCE,
    )
    closed = await case_reaches(refund, case["case_id"], "CLOSED")
    assert "EXCEEDS_REFUNDABLE" in closed["close_reason"]
    [evt] = await event_collector.wait_for(about("xinren.aftersale.closed", case_id=case["case_id"]))
    assert evt.data["status"] == "CLOSED"
    eligibility = (
        await refund.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=order.buyer)
    ).json()
    assert (eligibility["reserved_fen"], eligibility["refundable_fen"]) == (0, 5_000)


async def test_the_buyer_may_withdraw_an_open_case(refund, publish, event_collector):
    order = await place_order(refund, publish, shipped=True)
    case = await open_case(refund, order, reason="NOT_RECEIVED", amount_fen=4_000)
    assert case["status"] == "REQUESTED"
    await command(refund, case["case_id"], "cancel", order.seller, expect=403)
    cancelled = await command(refund, case["case_id"], "cancel", order.buyer, {"reason": "收到了"})
    assert cancelled["status"] == "CANCELLED" and cancelled["close_reason"] == "收到了"
    assert (await command(refund, case["case_id"], "cancel", order.buyer))["status"] == "CANCELLED"  # again: no-op
    err = await command(refund, case["case_id"], "approve", order.seller, expect=409)
    assert err["error"]["code"] == "ILLEGAL_TRANSITION" and err["error"]["details"]["current_status"] == "CANCELLED"
    [evt] = await event_collector.wait_for(about("xinren.aftersale.closed", case_id=case["case_id"]))
    assert evt.data["status"] == "CANCELLED"
    assert await refund.outbox_count("xinren.aftersale.closed", order.order_id) == 1


async def test_requests_are_checked_and_cases_are_private(refund, publish):
    order = await place_order(refund, publish, shipped=True)
    client = refund.client
    assert (await client.post("/v1/after-sales", json={})).status_code == 401
    bad = [
        {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "amount_fen": 0},
        {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "QC_FAILED"},
        {"order_id": order.order_id, "type": "SWAP", "reason": "OTHER"},
        {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "items": [{"sku_id": "a"}]},
        {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "items": []},
        {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", "evidence": ["not a url"]},
    ]
    for body in bad:
        r = await client.post("/v1/after-sales", json=body, headers=order.buyer)
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR", r.text
    r = await client.post(
        "/v1/after-sales",
        json={"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER"},
        headers=buyer_headers(uid("u")),
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "ORDER_NOT_FOUND"  # someone else's order
    r = await client.post(
        "/v1/after-sales",
        json={"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER"},
        headers=order.seller,
    )
    assert r.status_code == 403
    err = await open_case(refund, order, expect=422, amount_fen=order.paid_fen + 1)
    assert err["error"]["code"] == "AMOUNT_EXCEEDS_REFUNDABLE"
    err = await open_case(refund, order, expect=422, type="RETURN_AND_REFUND", reason="QUALITY_ISSUE")
    assert err["error"]["code"] == "NOT_DELIVERED"

    case = await open_case(refund, order, reason="NOT_RECEIVED")
    cid = case["case_id"]
    assert (await client.get(f"/v1/after-sales/{cid}", headers=order.buyer)).status_code == 200
    assert (await client.get(f"/v1/after-sales/{cid}", headers=order.seller)).status_code == 200
    assert (await client.get(f"/v1/after-sales/{cid}", headers=buyer_headers(uid("u")))).status_code == 404
    assert (await client.get(f"/v1/after-sales/{cid}", headers=seller_headers(uid("shop")))).status_code == 404
    assert (await client.get(f"/v1/after-sales/{cid}", headers=bearer(SECRET, "host", "h1"))).status_code == 403
    assert (await client.get("/v1/after-sales/as_nope", headers=ADMIN)).status_code == 404
    r = await client.post(f"/v1/after-sales/{cid}/reject", json={"reason": ""}, headers=order.seller)
    assert r.status_code == 422
    r = await client.post(f"/v1/after-sales/{cid}/arbitrate", json={"decision": "REFUND", "reason": "x"}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["error"]["details"]["current_status"] == "REQUESTED"
    assert (await get_case(refund, cid))["status"] == "REQUESTED"


async def test_lists_are_scoped_filtered_and_paginated(refund, publish):
    order = await place_order(refund, publish, paid_fen=9_000, shipped=True)
    ids = [(await open_case(refund, order, reason="NOT_RECEIVED", amount_fen=1_000))["case_id"] for _ in range(3)]
    await command(refund, ids[0], "reject", order.seller, {"reason": "已签收"})

    seen, cursor = [], None
    while True:
        params = {"order_id": order.order_id, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await refund.client.get("/v1/after-sales", params=params, headers=order.buyer)).json()
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each once

    by_shop = (await refund.client.get("/v1/after-sales", params={"status": "REJECTED"}, headers=order.seller)).json()
    assert [c["case_id"] for c in by_shop["items"]] == [ids[0]]
    other = (
        await refund.client.get("/v1/after-sales", params={"order_id": order.order_id}, headers=buyer_headers(uid("u")))
    ).json()
    assert other["items"] == []
    r = await refund.client.get("/v1/after-sales", params={"cursor": "garbage!"}, headers=order.buyer)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_CURSOR"
    r = await refund.client.get("/v1/after-sales", params={"limit": 500}, headers=order.buyer)
    assert r.status_code == 422
