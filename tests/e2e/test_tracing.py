"""One trace across the running services: the trace id of a buyer's pay request (its `traceparent`) is the one the
quality-check service's qc.case_opened record carries in Kafka and the one a partner's webhook of that case gets."""

import json
import uuid

from xinren_shared.contracts.qc import QcCaseOpened
from xinren_shared.tracing import trace_id_of_traceparent

from .platform import rid
from .test_webhooks_e2e import receiver  # noqa: F401  (the fixture)


async def test_one_trace_from_the_pay_request_to_the_qc_case_and_its_webhook(
    platform,
    stack,
    receiver,  # noqa: F811
    event_collector,
):
    p = platform
    url, received = receiver
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", 88_000)
    partner = stack.token("partner", rid("erp"), shops=[shop.shop_id])
    await p.call(
        "notify",
        "POST",
        "/v1/webhooks",
        partner,
        json={"url": url, "event_types": [QcCaseOpened.TYPE], "description": "traces"},
        expect=201,
    )
    buyer = p.buyer()
    order = await p.order(buyer, shop, sku)
    order_id = order["order_id"]
    p.orders.pop(order_id)  # its fate (the QC inbound deadline runs out) is not what this test follows

    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    paid = await p.call(
        "order",
        "POST",
        f"/v1/orders/{order_id}/pay",
        {**buyer, "Idempotency-Key": rid("idem"), "traceparent": traceparent},
        json={"amount_fen": order["total_fen"], "method": "SANDBOX"},
    )
    assert paid["status"] in ("PAID", "AWAITING_QC_INBOUND")
    await p.qc_case(order_id)

    # The quality-check service opened the case in the pay request's trace (order.paid carried it there).
    (record,) = await event_collector.wait_for_raw(
        QcCaseOpened.TOPIC,
        lambda r: r.key == order_id.encode() and ("ce_type", QcCaseOpened.TYPE.encode()) in r.headers,
        timeout=30,
    )
    assert trace_id_of_traceparent(dict(record.headers)["traceparent"].decode()) == trace_id

    # The partner's webhook of that case: a traceparent header in the same trace, and the CloudEvent's own
    # traceparent attribute (the distributed tracing extension).
    async def case_webhooks():
        return [
            (headers, json.loads(body))
            for headers, body in received
            if json.loads(body).get("type") == QcCaseOpened.TYPE and json.loads(body)["data"]["order_id"] == order_id
        ]

    (headers, payload), *_ = await stack.until(case_webhooks, timeout=30, what="the qc.case_opened webhook")
    assert trace_id_of_traceparent(headers["traceparent"]) == trace_id
    assert trace_id_of_traceparent(payload["traceparent"]) == trace_id
