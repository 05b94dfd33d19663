"""A partner's subscription receives only the events of the shops its token grants (the `shops` claim, or the older
`shop_id`), recorded when it subscribed; an admin's receives every shop's; existing subscriptions are migrated."""

import asyncio
import uuid

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from xinren_shared import migrate
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered
from xinren_shared.settings import to_async_url

from ..support import ok

CANCELLED = "xinren.order.cancelled"


def run_id() -> str:
    return uuid.uuid4().hex[:10]


def cancelled(order_id: str, shop_id: str) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, shop_id=shop_id, reason="test", by="buyer")


async def test_a_partner_receives_only_the_shops_it_is_granted(notify, receiver, publish):
    granted, narrowed_to, other = ("shop_" + run_id() for _ in range(3))
    partner = notify.auth("partner", shops=[granted, narrowed_to])
    body = {"event_types": ["*"]}
    made: list[tuple[dict, str]] = []
    try:
        names = {k: f"scope-{k}-" + run_id() for k in ("both", "narrow", "legacy", "admin")}
        both = (
            await notify.client.post(
                "/v1/webhooks", headers=partner, json={**body, "url": receiver.url(names["both"], ok())}
            )
        ).json()
        narrow = (
            await notify.client.post(
                "/v1/webhooks",
                headers=partner,
                json={**body, "url": receiver.url(names["narrow"], ok()), "shop_id": narrowed_to},
            )
        ).json()
        legacy_partner = notify.auth("partner", shop_id=granted)  # the older single-shop claim still grants its shop
        legacy = (
            await notify.client.post(
                "/v1/webhooks", headers=legacy_partner, json={**body, "url": receiver.url(names["legacy"], ok())}
            )
        ).json()
        admin = notify.auth("admin")
        everything = (
            await notify.client.post(
                "/v1/webhooks",
                headers=admin,
                json={"url": receiver.url(names["admin"], ok()), "event_types": [CANCELLED, "xinren.order.delivered"]},
            )
        ).json()
        made = [
            (partner, both["webhook_id"]),
            (partner, narrow["webhook_id"]),
            (legacy_partner, legacy["webhook_id"]),
            (admin, everything["webhook_id"]),
        ]
        assert both["shops"] == sorted([granted, narrowed_to]) and both["shop_id"] is None
        assert narrow["shops"] == [narrowed_to] and narrow["shop_id"] == narrowed_to
        assert legacy["shops"] == [granted]
        assert everything["shops"] is None and everything["state"] == "HEALTHY" and everything["backlog"] == 0

        in_granted, in_narrowed, in_other, shopless = ("ord_" + run_id() for _ in range(4))
        await publish(
            cancelled(in_granted, granted),
            cancelled(in_narrowed, narrowed_to),
            cancelled(in_other, other),
            OrderDelivered(order_id=shopless, delivered_at="2025-05-20T08:00:00Z"),  # no shop known for it
            source="/xinren/order",
        )
        # The admin's subscription gets all four: by then every subscription's deliveries were decided.
        mine = {in_granted, in_narrowed, in_other, shopless}
        await receiver.wait_for(names["admin"], lambda c: c.subject in mine, count=4)
        await receiver.wait_for(names["both"], lambda c: c.subject in mine, count=2)
        await receiver.wait_for(names["narrow"], lambda c: c.subject in mine)
        await receiver.wait_for(names["legacy"], lambda c: c.subject in mine)
        assert sorted(c.subject for c in receiver.of(names["both"])) == sorted([in_granted, in_narrowed])
        assert [c.subject for c in receiver.of(names["narrow"])] == [in_narrowed]
        assert [c.subject for c in receiver.of(names["legacy"])] == [in_granted]
    finally:
        for headers, webhook_id in made:
            await notify.client.delete(f"/v1/webhooks/{webhook_id}", headers=headers)


async def test_a_partner_without_grants_or_outside_them_cannot_subscribe(notify, receiver):
    body = {"url": receiver.url("scope-refused"), "event_types": ["*"]}
    nothing = notify.auth("partner")
    r = await notify.client.post("/v1/webhooks", headers=nothing, json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "NO_SHOPS_GRANTED")
    partner = notify.auth("partner", shops=["shop_" + run_id()])
    r = await notify.client.post("/v1/webhooks", headers=partner, json={**body, "shop_id": "shop_not_mine"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "SHOP_NOT_GRANTED")
    for headers in (nothing, partner):
        assert (await notify.client.get("/v1/webhooks", headers=headers)).json()["items"] == []
    # An admin may narrow to any shop.
    admin = notify.auth("admin")
    r = await notify.client.post("/v1/webhooks", headers=admin, json={**body, "shop_id": "shop_any"})
    assert r.status_code == 201 and r.json()["shops"] == ["shop_any"]
    await notify.client.delete(f"/v1/webhooks/{r.json()['webhook_id']}", headers=admin)


async def test_existing_subscriptions_keep_their_shop_and_unscoped_partner_ones_get_none(make_database):
    url = await make_database("notify_scope_migration")
    config = migrate.alembic_config("xinren_notify", url)
    await asyncio.to_thread(command.upgrade, config, "0003")
    engine = create_async_engine(to_async_url(url))
    try:
        rows = [("wh_shop", "partner:p1", "shop_1"), ("wh_none", "partner:p2", None), ("wh_admin", "admin:ops", None)]
        async with engine.begin() as conn:
            for webhook_id, owner, shop_id in rows:
                await conn.execute(
                    text(
                        "INSERT INTO webhook_subscription (webhook_id, owner, url, event_types, shop_id, secret_salt)"
                        " VALUES (:id, :owner, 'https://example.com/h', '[\"*\"]', :shop, 'salt')"
                    ),
                    {"id": webhook_id, "owner": owner, "shop": shop_id},
                )
        await migrate.upgrade_async("xinren_notify", url)
        async with engine.connect() as conn:
            found = dict((await conn.execute(text("SELECT webhook_id, shops FROM webhook_subscription"))).all())
        assert found == {"wh_shop": ["shop_1"], "wh_none": [], "wh_admin": None}
    finally:
        await engine.dispose()
