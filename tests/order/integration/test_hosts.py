"""Hosts and their cooperations with shops: who registers and binds them, what an order may name as its host, and
the commission rate an order takes from the cooperation that covers it."""

from tests.order.conftest import ADDRESS, admin, buyer, host, partner, seller, uid


def code(r) -> str:
    return r.json()["error"]["code"]


def new_host(host_id: str, name: str = "林主播") -> dict:
    return {"host_id": host_id, "name": name}


async def test_hosts_are_registered_by_an_admin_or_by_themselves(api):
    c = api.client
    by_admin, by_itself = uid("host"), uid("host")
    r = await c.post("/v1/hosts", json=new_host(by_admin), headers=admin())
    assert r.status_code == 201, r.text
    assert r.json()["host_id"] == by_admin and r.json()["name"] == "林主播" and r.json()["created_at"]
    key = {"Idempotency-Key": uid("k")}
    first = await c.post("/v1/hosts", json=new_host(by_itself), headers=host(by_itself) | key)
    assert first.status_code == 201, first.text
    replay = await c.post("/v1/hosts", json=new_host(by_itself), headers=host(by_itself) | key)
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers.get("idempotent-replayed") == "true"

    # Nobody else registers a host: not another host, not a buyer, seller or partner.
    other = uid("host")
    for who in (host(uid("host")), buyer(other), seller(uid("shop")), partner()):
        assert (await c.post("/v1/hosts", json=new_host(other), headers=who)).status_code == 403
    assert (await c.get(f"/v1/hosts/{other}", headers=admin())).status_code == 404

    again = await c.post("/v1/hosts", json=new_host(by_admin, "someone else"), headers=admin())
    assert again.status_code == 409 and code(again) == "HOST_EXISTS"
    for bad in ({"host_id": "a b", "name": "x"}, {"host_id": "h" * 65, "name": "x"}, {"host_id": uid("h"), "name": ""}):
        assert (await c.post("/v1/hosts", json=bad, headers=admin())).status_code == 422

    for who in (buyer(uid("u")), seller(uid("shop")), host(uid("host")), admin()):
        got = await c.get(f"/v1/hosts/{by_admin}", headers=who)
        assert got.status_code == 200 and got.json()["name"] == "林主播"  # the first registration stands


async def test_a_seller_binds_registered_hosts_to_its_own_shop_within_the_commission_bound(api):
    c = api.client
    shop, other_shop = await api.shop(), await api.shop()
    sku, foreign_sku = await api.product(shop), await api.product(other_shop)
    host_id = await api.register_host()
    url = f"/v1/shops/{shop.shop_id}/cooperations"

    # Only the shop's seller and admins bind hosts to it.
    for who in (seller(other_shop.shop_id), buyer(uid("u")), host(host_id), partner()):
        assert (await c.post(url, json={"host_id": host_id}, headers=who)).status_code == 403

    # Refused, each changing nothing.
    refusals = [
        ({"host_id": uid("host")}, 422, "HOST_NOT_FOUND"),
        ({"host_id": host_id, "sku_ids": [foreign_sku]}, 422, "SKU_NOT_IN_SHOP"),
        ({"host_id": host_id, "sku_ids": [uid("sku")]}, 422, "UNKNOWN_SKU"),
        # The highest platform rate is 6%: a host may have 94% at most.
        ({"host_id": host_id, "commission_bps": 9_401}, 422, "COMMISSION_TOO_HIGH"),
        ({"host_id": host_id, "commission_bps": 10_001}, 422, None),
        ({"host_id": host_id, "commission_bps": -1}, 422, None),
        ({"host_id": host_id, "commission_bps": "300"}, 422, None),
        ({"host_id": host_id, "sku_ids": []}, 422, None),
        ({"host_id": host_id, "sku_ids": [sku, sku]}, 422, None),
    ]
    for body, status, error in refusals:
        r = await c.post(url, json=body, headers=shop.headers)
        assert r.status_code == status, (body, r.text)
        assert error is None or code(r) == error, (body, r.text)
    assert (await c.get(url, headers=shop.headers)).json()["items"] == []
    unknown_shop = f"/v1/shops/{uid('shop')}/cooperations"
    assert (await c.post(unknown_shop, json={"host_id": host_id}, headers=admin())).status_code == 404

    made = await c.post(url, json={"host_id": host_id}, headers=shop.headers)
    assert made.status_code == 201, made.text
    coop = made.json()
    assert coop["cooperation_id"] and coop["created_at"] and coop["ended_at"] is None
    assert coop.items() >= {
        "shop_id": shop.shop_id, "host_id": host_id, "commission_bps": 300, "sku_ids": None, "status": "ACTIVE",
    }.items()  # fmt: skip

    # A second shop-wide cooperation competes with the first; a per-product one next to it is the point.
    clash = await c.post(url, json={"host_id": host_id, "commission_bps": 500}, headers=admin())
    assert clash.status_code == 409 and code(clash) == "COOPERATION_EXISTS"
    assert clash.json()["error"]["details"]["cooperation_id"] == coop["cooperation_id"]
    per_sku = await c.post(url, json={"host_id": host_id, "commission_bps": 9_400, "sku_ids": [sku]}, headers=admin())
    assert per_sku.status_code == 201 and per_sku.json()["sku_ids"] == [sku]
    overlap = await c.post(url, json={"host_id": host_id, "sku_ids": [sku]}, headers=shop.headers)
    assert overlap.status_code == 409 and code(overlap) == "COOPERATION_EXISTS"

    # Ended, the shop-wide place is free again; ending twice changes nothing.
    end = f"{url}/{coop['cooperation_id']}"
    assert (await c.delete(end, headers=seller(other_shop.shop_id))).status_code == 403
    foreign_path = f"/v1/shops/{other_shop.shop_id}/cooperations/{coop['cooperation_id']}"
    assert (await c.delete(foreign_path, headers=seller(other_shop.shop_id))).status_code == 404
    ended = await c.delete(end, headers=shop.headers)
    assert ended.status_code == 200 and ended.json()["status"] == "ENDED" and ended.json()["ended_at"]
    assert (await c.delete(end, headers=shop.headers)).json() == ended.json()
    assert (await c.post(url, json={"host_id": host_id}, headers=shop.headers)).status_code == 201


async def test_cooperation_lists_are_paginated_newest_first_and_scoped(api):
    c = api.client
    shop, other_shop = await api.shop(), await api.shop()
    hosts = [await api.register_host() for _ in range(5)]
    made = [(await api.cooperate(shop, h, commission_bps=100 * (i + 1)))["cooperation_id"] for i, h in enumerate(hosts)]
    await api.cooperate(other_shop, hosts[0])
    url = f"/v1/shops/{shop.shop_id}/cooperations"

    seen, cursor = [], None
    for _ in range(4):
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await c.get(url, params=params, headers=shop.headers)).json()
        assert len(page["items"]) <= 2
        seen += [item["cooperation_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]
    forged = await c.get(url, params={"cursor": "e30.AAAA"}, headers=shop.headers)
    assert forged.status_code == 400 and code(forged) == "INVALID_CURSOR"

    ended = made[1]
    await c.delete(f"{url}/{ended}", headers=shop.headers)
    active = (await c.get(url, params={"status": "ACTIVE"}, headers=admin())).json()["items"]
    assert {item["cooperation_id"] for item in active} == set(made) - {ended}
    assert [
        i["cooperation_id"] for i in (await c.get(url, params={"status": "ENDED"}, headers=admin())).json()["items"]
    ] == [ended]

    # A host sees its own cooperations (with every shop, or with one); a seller only its shop's.
    mine = (await c.get(f"/v1/hosts/{hosts[0]}/cooperations", headers=host(hosts[0]))).json()["items"]
    assert {item["shop_id"] for item in mine} == {shop.shop_id, other_shop.shop_id}
    assert [i["host_id"] for i in (await c.get(url, headers=host(hosts[0]))).json()["items"]] == [hosts[0]]
    assert (await c.get(f"/v1/hosts/{hosts[0]}/cooperations", headers=host(hosts[1]))).json()["items"] == []
    with_seller = (await c.get(f"/v1/hosts/{hosts[0]}/cooperations", headers=shop.headers)).json()["items"]
    assert [item["shop_id"] for item in with_seller] == [shop.shop_id]
    assert (await c.get(url, headers=seller(other_shop.shop_id))).status_code == 403
    assert (await c.get(url, headers=buyer(uid("u")))).status_code == 403
    assert (await c.get(f"/v1/hosts/{hosts[0]}/cooperations", headers=buyer(uid("u")))).status_code == 403
    assert (await c.get(f"/v1/hosts/{uid('host')}/cooperations", headers=admin())).status_code == 404
    assert (await c.get(f"/v1/shops/{uid('shop')}/cooperations", headers=admin())).status_code == 404


def order_body(shop_id: str, skus: list[str], host_id: str | None) -> dict:
    body = {"shop_id": shop_id, "items": [{"sku_id": s, "quantity": 1} for s in skus], "shipping_address": ADDRESS}
    return body | ({"host_id": host_id} if host_id else {})


async def test_an_order_names_only_a_host_cooperating_with_the_shop_for_every_item_and_never_the_buyer(api):
    c = api.client
    shop, other_shop = await api.shop(), await api.shop()
    tea, cup = await api.product(shop, stock=5), await api.product(shop, stock=5)
    me = uid("u")

    async def refused(host_id: str, skus: list[str], error: str) -> dict:
        r = await c.post("/v1/orders", json=order_body(shop.shop_id, skus, host_id), headers=buyer(me))
        assert r.status_code == 422 and code(r) == error, r.text
        return r.json()["error"]

    # A buyer is never the host of its own order, even registered and cooperating.
    await api.register_host(me)
    await api.cooperate(shop, me)
    await refused(me, [tea], "HOST_IS_BUYER")
    # Not registered; registered but cooperating with another shop only.
    await refused(uid("host"), [tea], "HOST_NOT_COOPERATING")
    elsewhere = await api.cooperating_host(other_shop)
    await refused(elsewhere, [tea], "HOST_NOT_COOPERATING")
    # A per-product cooperation covers its products only.
    for_tea = await api.register_host()
    await api.cooperate(shop, for_tea, sku_ids=[tea])
    error = await refused(for_tea, [tea, cup], "HOST_NOT_COOPERATING")
    assert error["details"] == {"host_id": for_tea, "sku_ids": [cup]}
    # An ended cooperation binds no more.
    ended = await api.register_host()
    coop = await api.cooperate(shop, ended)
    ok = await c.post("/v1/orders", json=order_body(shop.shop_id, [cup], ended), headers=buyer(me))
    assert ok.status_code == 201 and ok.json()["host_id"] == ended
    await c.delete(f"/v1/shops/{shop.shop_id}/cooperations/{coop['cooperation_id']}", headers=shop.headers)
    await refused(ended, [cup], "HOST_NOT_COOPERATING")

    # Refusals reserved nothing: only the one accepted order took stock.
    stock = [(await c.get(f"/v1/products/{s}", headers=buyer(me))).json()["stock_available"] for s in (tea, cup)]
    assert stock == [5, 4]
    assert await c.get(f"/v1/orders/{ok.json()['order_id']}", headers=host(ended)) is not None
    assert (await c.get("/v1/orders", headers=host(ended))).json()["items"][0]["order_id"] == ok.json()["order_id"]


async def test_the_order_takes_each_items_rate_from_its_cooperation_and_the_release_pays_it(api, event_collector):
    c = api.client
    shop = await api.shop()
    tea = await api.product(shop, category="tea", price_fen=30_000)
    cup = await api.product(shop, category="tea", price_fen=10_000)
    host_id = await api.register_host()
    await api.cooperate(shop, host_id)  # shop-wide at the default 3%
    await api.cooperate(shop, host_id, commission_bps=800, sku_ids=[tea])  # the tea itself at 8%

    cup_only = await api.order(shop, cup, uid("u"), host_id=host_id)
    assert cup_only["host_commission_bps"] == 300
    no_host = await api.order(shop, cup, uid("u"))
    assert no_host["host_commission_bps"] == 0 and no_host["host_id"] is None

    me = uid("u")
    r = await c.post("/v1/orders", json=order_body(shop.shop_id, [tea, cup], host_id), headers=buyer(me))
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["order_id"]
    assert order["host_commission_bps"] == 675  # (30000 x 8% + 10000 x 3%) / 40000

    def created(order_id):
        return lambda e: e.key == order_id and e.type == "xinren.order.created"

    [evt] = await event_collector.wait_for(created(oid))
    assert evt.data["host_id"] == host_id and evt.data["host_commission_bps"] == 675
    [evt] = await event_collector.wait_for(created(cup_only["order_id"]))
    assert evt.data["host_commission_bps"] == 300
    [evt] = await event_collector.wait_for(created(no_host["order_id"]))
    assert evt.data.get("host_commission_bps") is None  # no host: no rate

    # The rates are fixed on the order: raising them afterwards changes nothing for it.
    listed = (await c.get(f"/v1/shops/{shop.shop_id}/cooperations", headers=shop.headers)).json()["items"]
    for coop in listed:
        await c.delete(f"/v1/shops/{shop.shop_id}/cooperations/{coop['cooperation_id']}", headers=shop.headers)
    await api.cooperate(shop, host_id, commission_bps=2_000)

    pay = await c.post(f"/v1/orders/{oid}/pay", json={"amount_fen": 40_000, "method": "ALIPAY"}, headers=buyer(me))
    assert pay.status_code == 200, pay.text
    await api.ship_deliver(order, shop)
    done = await c.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(me))
    assert done.status_code == 200, done.text
    ledger = (await c.get(f"/v1/orders/{oid}/ledger", headers=admin())).json()["items"]
    release = {e["account"]: e["amount_fen"] for e in ledger[-1]["entries"]}
    # Platform 5% of 40000; host 8% of the tea and 3% of the cup.
    assert release == {
        f"escrow:{oid}": -40_000,
        "platform:commission": 2_000,
        f"host:{host_id}": 2_700,
        f"seller:{shop.shop_id}": 35_300,
    }
    [completed] = await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.completed")
    assert completed.data["host_fen"] == 2_700 and completed.data["platform_fen"] == 2_000
    await api.ledger_ok()
