"""A flash sale: 200 concurrent orders through the app for a SKU with stock 50."""

import asyncio
from collections import Counter

from tests.order.conftest import ADDRESS, buyer, uid


async def test_200_concurrent_orders_for_stock_50_create_exactly_50(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=1_990, stock=50)
    buyers = [uid("u") for _ in range(200)]

    async def place(me: str):
        return await api.client.post(
            "/v1/orders",
            json={"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS},
            headers=buyer(me),
        )

    responses = await asyncio.gather(*(place(me) for me in buyers))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 50, 409: 150}, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"OUT_OF_STOCK"}
    created = [r.json() for r in responses if r.status_code == 201]
    assert len({o["order_id"] for o in created}) == 50
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(buyers[0]))).json()["stock_available"] == 0
    await api.ledger_ok()

    # Cancelling 10 of them makes 10 available again (and they can be bought).
    for order in created[:10]:
        r = await api.client.post(
            f"/v1/orders/{order['order_id']}/cancel",
            json={"reason": "flash sale regret"},
            headers=buyer(order["buyer_id"]),
        )
        assert r.status_code == 200, r.text
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer(buyers[0]))).json()["stock_available"] == 10
    again = await asyncio.gather(*(place(uid("u")) for _ in range(12)))
    assert Counter(r.status_code for r in again) == {201: 10, 409: 2}

    ids = {o["order_id"] for o in created}
    await event_collector.wait_for(lambda e: e.type == "xinren.order.created" and e.key in ids, count=50)
    await event_collector.wait_for(lambda e: e.type == "xinren.order.cancelled" and e.key in ids, count=10)
