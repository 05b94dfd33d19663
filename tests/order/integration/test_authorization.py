"""Authorization as the API table says, on every endpoint: wrong roles 403, other tenants' orders 404."""

from tests.order.conftest import ADDRESS, SECRET, admin, buyer, host, partner, seller, uid
from xinren_shared.testing.http import bearer


def warehouse():
    return bearer(SECRET, "warehouse", "staff_1", warehouse_id="wh_1")


async def expect(response, status: int):
    assert response.status_code == status, (response.request.method, response.request.url.path, response.text)
    if status >= 400:
        assert response.json()["error"]["code"]


async def test_every_route_needs_a_valid_token(api):
    for method, path in [
        ("GET", "/v1/orders"),
        ("POST", "/v1/orders"),
        ("GET", "/v1/shops/x"),
        ("GET", "/v1/ledger/check"),
        ("GET", "/v1/products/x"),
    ]:
        r = await api.client.request(method, path, json={})
        await expect(r, 401)
    r = await api.client.get("/v1/orders", headers={"Authorization": "Bearer not-a-jwt"})
    await expect(r, 401)
    forged = bearer("another-secret-0123456789abcdef0123", "admin", "evil")
    await expect(await api.client.get("/v1/ledger/check", headers=forged), 401)


async def test_shops_and_catalog(api):
    shop, other = await api.shop(deposit_fen=1_000), await api.shop()
    c = api.client
    body = {"name": "x", "trust_rights": [], "deposit_fen": 0}
    for who in (buyer("u1"), seller(shop.shop_id), partner(), host("h1")):
        await expect(await c.post("/v1/shops", json=body, headers=who), 403)
    await expect(await c.post("/v1/shops", json={**body, "shop_id": shop.shop_id}, headers=admin()), 409)
    # Anyone reads a shop; only its seller and admins see its money.
    public = (await c.get(f"/v1/shops/{shop.shop_id}", headers=buyer("u1"))).json()
    assert public["status"] == "ACTIVE" and public["deposit_fen"] is None
    assert (await c.get(f"/v1/shops/{shop.shop_id}", headers=seller(other.shop_id))).json()["deposit_fen"] is None
    assert (await c.get(f"/v1/shops/{shop.shop_id}", headers=shop.headers)).json()["deposit_fen"] == 1_000
    await expect(await c.get("/v1/shops/shop_nope", headers=buyer("u1")), 404)

    product = {"title": "t", "category": "snacks", "price_fen": 100, "stock": 1}
    await expect(await c.post(f"/v1/shops/{shop.shop_id}/products", json=product, headers=seller(other.shop_id)), 403)
    await expect(await c.post(f"/v1/shops/{shop.shop_id}/products", json=product, headers=buyer("u1")), 403)
    await expect(await c.post(f"/v1/shops/{shop.shop_id}/products", json=product, headers=admin()), 403)
    sku = await api.product(shop, stock=1)
    await expect(await c.get(f"/v1/products/{sku}", headers=warehouse()), 200)
    await expect(await c.get(f"/v1/shops/{shop.shop_id}/products", headers=partner()), 200)
    await expect(await c.post(f"/v1/products/{sku}/stock", json={"quantity": 5}, headers=seller(other.shop_id)), 403)
    await expect(await c.post(f"/v1/products/{sku}/stock", json={"quantity": 5}, headers=buyer("u1")), 403)
    await expect(await c.post(f"/v1/products/{sku}/stock", json={"quantity": 5}, headers=shop.headers), 200)
    assert (await c.get(f"/v1/products/{sku}", headers=buyer("u1"))).json()["stock_available"] == 6

    await expect(
        await c.post(f"/v1/shops/{shop.shop_id}/deposit", json={"amount_fen": 5}, headers=seller(other.shop_id)), 403
    )
    await expect(await c.post(f"/v1/shops/{shop.shop_id}/deposit", json={"amount_fen": 5}, headers=buyer("u1")), 403)
    topped = await c.post(
        f"/v1/shops/{shop.shop_id}/deposit",
        json={"amount_fen": 500},
        headers=shop.headers | {"Idempotency-Key": uid("k")},
    )
    await expect(topped, 200)
    assert topped.json()["deposit_fen"] == 1_500
    await expect(await c.post(f"/v1/shops/{shop.shop_id}/reinstate", headers=shop.headers), 403)


async def test_orders_of_other_tenants_are_invisible_and_untouchable(api):
    shop, other_shop = await api.shop(), await api.shop()
    sku = await api.product(shop, stock=10)
    me, stranger, host_id = uid("u"), uid("u"), await api.cooperating_host(shop)
    order = await api.order(shop, sku, me, host_id=host_id)
    oid = order["order_id"]
    c = api.client
    pay = {"amount_fen": order["total_fen"], "method": "ALIPAY"}

    # Creating an order is for buyers only.
    new = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS}
    for who in (shop.headers, admin(), partner(), host(host_id)):
        await expect(await c.post("/v1/orders", json=new, headers=who), 403)

    # Reading one order.
    for who, status in [
        (buyer(stranger), 404),
        (seller(other_shop.shop_id), 404),
        (host("someone_else"), 404),
        (warehouse(), 403),
        (partner(), 404),  # a partner reads the orders of the shops it is granted only
    ]:
        await expect(await c.get(f"/v1/orders/{oid}", headers=who), status)
    for who in (buyer(me), shop.headers, admin()):
        assert (await c.get(f"/v1/orders/{oid}", headers=who)).json()["shipping_address"] == ADDRESS
    as_host = (await c.get(f"/v1/orders/{oid}", headers=host(host_id))).json()
    assert as_host["order_id"] == oid and as_host["shipping_address"] is None
    await expect(await c.get("/v1/orders/ord_does_not_exist", headers=buyer(me)), 404)

    # Lists are scoped.
    assert (await c.get("/v1/orders", headers=buyer(stranger))).json()["items"] == []
    assert (await c.get("/v1/orders", headers=seller(other_shop.shop_id))).json()["items"] == []
    assert [o["order_id"] for o in (await c.get("/v1/orders", headers=host(host_id))).json()["items"]] == [oid]
    assert (await c.get("/v1/orders", params={"shop_id": shop.shop_id}, headers=buyer(stranger))).json()["items"] == []
    await expect(await c.get("/v1/orders", headers=warehouse()), 403)
    assert (await c.get("/v1/orders", headers=partner())).json()["items"] == []

    # Writes: pay, cancel, ship, deliver, confirm.
    await expect(await c.post(f"/v1/orders/{oid}/pay", json=pay, headers=buyer(stranger)), 404)
    await expect(await c.post(f"/v1/orders/{oid}/pay", json=pay, headers=shop.headers), 403)
    await expect(await c.post(f"/v1/orders/{oid}/pay", json=pay, headers=admin()), 403)
    await expect(await c.post(f"/v1/orders/{oid}/cancel", json={}, headers=buyer(stranger)), 404)
    await expect(await c.post(f"/v1/orders/{oid}/cancel", json={}, headers=seller(other_shop.shop_id)), 404)
    await expect(await c.post(f"/v1/orders/{oid}/cancel", json={}, headers=partner()), 403)
    await expect(await c.post(f"/v1/orders/{oid}/pay", json=pay, headers=buyer(me)), 200)
    ship = {"carrier": "SF", "tracking_no": "T9"}
    await expect(await c.post(f"/v1/orders/{oid}/shipments", json=ship, headers=seller(other_shop.shop_id)), 404)
    await expect(await c.post(f"/v1/orders/{oid}/shipments", json=ship, headers=buyer(me)), 403)
    await expect(await c.post(f"/v1/orders/{oid}/shipments", json=ship, headers=shop.headers), 201)
    for who in (buyer(me), shop.headers, host(host_id)):
        await expect(await c.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "T9"}, headers=who), 403)
    await expect(await c.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": "T9"}, headers=admin()), 200)
    await expect(await c.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(stranger)), 404)
    await expect(await c.post(f"/v1/orders/{oid}/confirm-receipt", headers=shop.headers), 403)
    assert (await api.get(oid))["status"] == "DELIVERED"  # none of the refused calls changed anything

    # The order's ledger and balances.
    await expect(await c.get(f"/v1/orders/{oid}/ledger", headers=buyer(me)), 403)
    await expect(await c.get(f"/v1/orders/{oid}/ledger", headers=seller(other_shop.shop_id)), 404)
    await expect(await c.get(f"/v1/orders/{oid}/ledger", headers=shop.headers), 200)
    own = [f"seller:{shop.shop_id}", f"deposit:{shop.shop_id}", f"receivable:{shop.shop_id}", f"escrow:{oid}"]
    for account in own:
        await expect(await c.get(f"/v1/ledger/balances/{account}", headers=shop.headers), 200)
        await expect(await c.get(f"/v1/ledger/balances/{account}", headers=seller(other_shop.shop_id)), 403)
        await expect(await c.get(f"/v1/ledger/balances/{account}", headers=buyer(me)), 403)
    await expect(await c.get("/v1/ledger/balances/platform:commission", headers=shop.headers), 403)
    await expect(await c.get(f"/v1/ledger/balances/host:{host_id}", headers=host(host_id)), 200)
    await expect(await c.get(f"/v1/ledger/balances/host:{host_id}", headers=host("someone_else")), 403)
    await expect(await c.get("/v1/ledger/balances/bank:nope", headers=admin()), 422)
    for who in (buyer(me), shop.headers, partner(), host(host_id)):
        await expect(await c.get("/v1/ledger/check", headers=who), 403)
    await expect(await c.get("/v1/ledger/check", headers=admin()), 200)
