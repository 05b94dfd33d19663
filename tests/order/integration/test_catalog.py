"""Shops and products created at once under the same id: one is created, the others are told it exists (409), and
nothing is created or paid in twice."""

import asyncio

from tests.order.conftest import admin, buyer, uid


async def test_a_shop_created_by_several_requests_at_once_is_created_once(api):
    shop_id = uid("shop")
    bodies = [
        {"shop_id": shop_id, "name": f"店铺 {n}", "trust_rights": [], "deposit_fen": 1_000 * (n + 1)} for n in range(8)
    ]
    answers = await asyncio.gather(*(api.client.post("/v1/shops", json=body, headers=admin()) for body in bodies))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 7, [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"SHOP_EXISTS"}
    created = next(r.json() for r in answers if r.status_code == 201)
    shown = (await api.client.get(f"/v1/shops/{shop_id}", headers=admin())).json()
    # The shop and its initial deposit are the one request's that created it.
    assert shown["name"] == created["name"] and shown["deposit_fen"] == created["deposit_fen"]
    await api.ledger_ok()  # the ledger balances: the losers paid nothing in


async def test_a_product_created_by_several_requests_at_once_is_created_once(api):
    shop = await api.shop()
    sku = uid("sku")
    bodies = [
        {"sku_id": sku, "title": f"翡翠 {n}", "category": "snacks", "price_fen": 100 + n, "stock": 10 + n}
        for n in range(8)
    ]
    answers = await asyncio.gather(
        *(api.client.post(f"/v1/shops/{shop.shop_id}/products", json=body, headers=shop.headers) for body in bodies)
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 7, [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"PRODUCT_EXISTS"}
    created = next(r.json() for r in answers if r.status_code == 201)
    shown = (await api.client.get(f"/v1/products/{sku}", headers=buyer(uid("u")))).json()
    assert (shown["title"], shown["price_fen"], shown["stock_available"]) == (
        created["title"],
        created["price_fen"],
        created["stock_available"],
    )
