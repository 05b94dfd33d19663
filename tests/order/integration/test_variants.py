"""Product variants: products of a shop sharing a product_id form a variant group; order.delivered names the
variants of the order's lines; an exchange for another variant reserves that SKU's stock, not the returned one's."""

from typing import Any

from tests.order.conftest import admin, buyer, eventually, uid
from xinren_shared.contracts.aftersales import AfterSaleApproved, AfterSaleItem

AS = "/xinren/refund"


async def variant(api, shop, product_id: str | None, *, price_fen: int, stock: int = 10) -> dict[str, Any]:
    body: dict[str, Any] = {"title": f"Bangle {price_fen}", "category": "snacks", "price_fen": price_fen}
    body |= {"stock": stock, "sku_id": uid("sku")}
    if product_id is not None:
        body["product_id"] = product_id
    r = await api.client.post(f"/v1/shops/{shop.shop_id}/products", json=body, headers=shop.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def stock(api, sku: str) -> int:
    return (await api.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"]


async def test_a_product_is_its_own_group_unless_named_and_a_group_is_one_shops(api):
    shop, other = await api.shop(), await api.shop()
    alone = await variant(api, shop, None, price_fen=5000)
    assert alone["product_id"] == alone["sku_id"]
    group = uid("prd")
    first = await variant(api, shop, group, price_fen=5000)
    assert first["product_id"] == group
    body = {"title": "x", "category": "jewellery", "price_fen": 100, "stock": 1, "product_id": group}
    r = await api.client.post(f"/v1/shops/{other.shop_id}/products", json=body, headers=other.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "PRODUCT_GROUP_OF_ANOTHER_SHOP", r.text
    body["product_id"] = alone["sku_id"]  # another shop's sku names that shop's own group
    r = await api.client.post(f"/v1/shops/{other.shop_id}/products", json=body, headers=other.headers)
    assert r.status_code == 409, r.text


async def test_delivery_names_the_variants_and_an_exchange_reserves_the_replacement_variant(
    api, publish, event_collector
):
    shop = await api.shop()
    group = uid("prd")
    size54 = await variant(api, shop, group, price_fen=12_000)
    size52 = await variant(api, shop, group, price_fen=11_000, stock=5)
    await variant(api, await api.shop(), None, price_fen=1)  # another shop's product: never a variant
    b = uid("b")
    order = await api.paid_order(shop, size54["sku_id"], b)
    await api.ship_deliver(order, shop)
    oid = order["order_id"]
    [delivered] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.delivered")
    variants = {v["sku_id"]: v for v in delivered.data["variants"]}
    assert set(variants) == {size54["sku_id"], size52["sku_id"]}
    assert variants[size52["sku_id"]] == {
        "sku_id": size52["sku_id"], "product_id": group, "title": "Bangle 11000", "unit_price_fen": 11_000,
    }  # fmt: skip

    before54 = await stock(api, size54["sku_id"])
    item = AfterSaleItem(sku_id=size54["sku_id"], quantity=1, amount_fen=1000, replacement_sku_id=size52["sku_id"])
    approved = AfterSaleApproved(
        order_id=oid, case_id=uid("as"), type="EXCHANGE", reason="NOT_AS_DESCRIBED", amount_fen=1000,
        status="APPROVED", buyer_id=b, shop_id=shop.shop_id, items=[item],
    )  # fmt: skip
    await publish(approved, source=AS)

    async def reserved() -> bool:
        return await stock(api, size52["sku_id"]) == 4

    await eventually(reserved, what="the replacement variant's stock reserved")
    assert await stock(api, size54["sku_id"]) == before54  # the returned SKU's stock is not taken
    assert (await api.client.get(f"/v1/orders/{oid}", headers=admin())).status_code == 200


async def test_a_delivery_of_a_product_without_variants_names_none(api, event_collector):
    shop = await api.shop()
    sku = await api.product(shop)
    order = await api.paid_order(shop, sku, uid("b"))
    await api.ship_deliver(order, shop)
    oid = order["order_id"]
    [delivered] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.delivered")
    assert delivered.data["variants"] == []
