"""A partner's webhook receives the whole lifecycle of one order, in order, each delivery signed, and nothing of the
shops it is not granted."""

import asyncio

import pytest_asyncio
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xinren_shared.testing.infra import free_port

from .test_trust_scenarios import delivered_order


@pytest_asyncio.fixture
async def receiver():
    """A real HTTP receiver on loopback that keeps what it is sent."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}/hook", received
    server.should_exit = True
    await task


async def test_partner_webhook_receives_one_orders_lifecycle_in_order(platform, stack, receiver):
    p = platform
    url, received = receiver
    shop, other_shop = await p.shop([]), await p.shop([])
    partner = stack.token("partner", "erp-partner-1", shops=[shop.shop_id])  # granted one shop only
    sub = await p.call(
        "notify",
        "POST",
        "/v1/webhooks",
        partner,
        json={"url": url, "event_types": ["*"], "description": "ERP"},
        expect=201,
    )
    secret = sub["secret"]
    assert secret.startswith("whsec_")

    sku = await p.product(shop, "apparel", 19_900)
    other_sku = await p.product(other_shop, "apparel", 9_900)
    buyer = p.buyer()
    # Another shop's order goes through first: "*" means every event type of the granted shops, not every shop.
    other_order = await delivered_order(p, other_shop, other_sku, p.buyer())
    order_id = await delivered_order(p, shop, sku, buyer)
    await p.confirm(buyer, order_id)
    p.orders[order_id] = "COMPLETED"

    expected = [
        "xinren.order.created",
        "xinren.order.paid",
        "xinren.order.shipped",
        "xinren.order.delivered",
        "xinren.order.completed",
    ]
    verifier = Webhook(secret)

    def of_order():
        events = []
        for headers, body in received:
            payload = verifier.verify(body, headers)  # raises on a bad signature
            if payload.get("subject") == order_id or payload.get("data", {}).get("order_id") == order_id:
                events.append((headers["webhook-id"], payload))
        return events

    async def all_there():
        events = of_order()
        return events if [e["type"] for _, e in events if e["type"] in expected] == expected else None

    events = await stack.until(all_there, timeout=45, what="the order's five lifecycle events at the webhook")
    for webhook_id, payload in events:
        assert webhook_id == payload["id"] and payload["specversion"] == "1.0"
    buyer_id = (await p.get_order(order_id))["buyer_id"]
    assert all(payload["data"]["buyer_id"] == buyer_id for _, payload in events)
    shops = {verifier.verify(body, headers)["data"].get("shop_id") for headers, body in received}
    assert shops == {shop.shop_id} and all(other_order.encode() not in body for _, body in received)
