"""The shop's return address (set by admins and its seller, carried by order.paid as it was at payment) and the
order list's filters."""

from datetime import datetime, timedelta

import pytest

from tests.order.conftest import ADDRESS, admin, buyer, seller, uid

RETURNS = {
    "name": "林氏翡翠售后",
    "phone": "0758-2288123",
    "province": "广东省",
    "city": "肇庆市",
    "district": "四会市",
    "line1": "玉器街 18 号",
}
MOVED = RETURNS | {"line1": "玉器街 20 号"}


async def test_a_shop_has_a_return_address_that_its_seller_and_admins_set(api):
    shop_id = uid("shop")
    body = {"shop_id": shop_id, "name": "林氏翡翠", "trust_rights": [], "return_address": RETURNS}
    created = await api.client.post("/v1/shops", json=body, headers=admin())
    assert created.status_code == 201 and created.json()["return_address"] == RETURNS
    shown = await api.client.get(f"/v1/shops/{shop_id}", headers=buyer("anyone"))
    assert shown.json()["return_address"] == RETURNS

    other = await api.shop()
    for who, status in [(seller(other.shop_id), 403), (buyer("u1"), 403)]:
        r = await api.client.patch(f"/v1/shops/{shop_id}", json={"name": "Stolen"}, headers=who)
        assert r.status_code == status, r.text
    for bad in ({}, {"return_address": RETURNS | {"phone": "call me"}}, {"return_address": {"name": "x"}}):
        r = await api.client.patch(f"/v1/shops/{shop_id}", json=bad, headers=seller(shop_id))
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR", r.text
    unchanged = (await api.client.get(f"/v1/shops/{shop_id}", headers=admin())).json()
    assert unchanged["name"] == "林氏翡翠" and unchanged["return_address"] == RETURNS

    moved = await api.client.patch(
        f"/v1/shops/{shop_id}", json={"name": "林氏翡翠旗舰店", "return_address": MOVED}, headers=seller(shop_id)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["name"] == "林氏翡翠旗舰店" and moved.json()["return_address"] == MOVED
    renamed = await api.client.patch(f"/v1/shops/{shop_id}", json={"name": "林氏"}, headers=admin())
    assert renamed.status_code == 200 and renamed.json()["return_address"] == MOVED
    missing = await api.client.patch("/v1/shops/shop_missing_zz", json={"name": "x"}, headers=admin())
    assert missing.status_code == 404


async def test_order_paid_carries_the_shipping_and_the_return_address_at_payment(api, event_collector):
    shop = await api.shop()
    assert (
        await api.client.patch(f"/v1/shops/{shop.shop_id}", json={"return_address": RETURNS}, headers=shop.headers)
    ).status_code == 200
    sku = await api.product(shop)
    me = uid("u")
    before = await api.paid_order(shop, sku, me)
    assert before["return_address"] == RETURNS and before["shipping_address"] == ADDRESS
    await api.client.patch(f"/v1/shops/{shop.shop_id}", json={"return_address": MOVED}, headers=shop.headers)
    after = await api.paid_order(shop, sku, me)

    [paid] = await event_collector.wait_for(lambda e: e.key == before["order_id"] and e.type == "xinren.order.paid")
    assert paid.data["shipping_address"] == ADDRESS and paid.data["return_address"] == RETURNS
    [paid2] = await event_collector.wait_for(lambda e: e.key == after["order_id"] and e.type == "xinren.order.paid")
    assert paid2.data["return_address"] == MOVED
    # The order keeps the address it was paid with.
    assert (await api.get(before["order_id"], buyer(me)))["return_address"] == RETURNS

    # A shop without a return address: order.paid says so (None), the order is paid all the same.
    bare = await api.shop()
    bare_order = await api.paid_order(bare, await api.product(bare), me)
    [paid3] = await event_collector.wait_for(
        lambda e: e.key == bare_order["order_id"] and e.type == "xinren.order.paid"
    )
    assert paid3.data.get("return_address") is None and paid3.data["shipping_address"] == ADDRESS


async def test_the_order_list_filters_by_several_statuses_creation_time_and_title(api):
    shop = await api.shop()
    jade = await api.product(shop)
    me = uid("u")
    start = datetime.now().astimezone()
    unpaid = await api.order(shop, jade, me)
    paid = await api.paid_order(shop, jade, me)
    cancelled = await api.order(shop, jade, me)
    await api.client.post(f"/v1/orders/{cancelled['order_id']}/cancel", json={}, headers=buyer(me))

    async def ids(**params) -> list[str]:
        r = await api.client.get("/v1/orders", params=params, headers=buyer(me))
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["items"]]

    assert await ids(status="PAID,CANCELLED") == [cancelled["order_id"], paid["order_id"]]
    assert await ids(status="CREATED") == [unpaid["order_id"]]
    created_paid = datetime.fromisoformat(paid["created_at"])
    assert await ids(created_after=created_paid.isoformat()) == [cancelled["order_id"], paid["order_id"]]
    assert await ids(created_before=created_paid.isoformat()) == [unpaid["order_id"]]
    assert await ids(created_after=(start + timedelta(hours=1)).isoformat()) == []
    title = (await api.client.get(f"/v1/products/{jade}", headers=buyer(me))).json()["title"]
    assert len(await ids(q=title.split()[-1].upper())) == 3  # case-insensitive, any part of a title
    assert await ids(q="no such title") == []
    assert await ids(q="100%_") == []  # LIKE wildcards are literal


@pytest.mark.parametrize(
    "params,code",
    [
        ({"colour": "red"}, "UNKNOWN_FILTER"),
        ({"status": "PAID,LOST"}, "VALIDATION_ERROR"),
        ({"status": ","}, "VALIDATION_ERROR"),
        ({"created_after": "yesterday"}, "VALIDATION_ERROR"),
        ({"created_after": "2026-01-01T00:00:00"}, "VALIDATION_ERROR"),  # a time without its zone
    ],
)
async def test_a_bad_or_unknown_filter_is_422(api, params, code):
    r = await api.client.get("/v1/orders", params=params, headers=buyer(uid("u")))
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
