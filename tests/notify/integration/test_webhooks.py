"""Partner webhooks against a real HTTP receiver on loopback: Standard Webhooks signatures verified with the
`standardwebhooks` library, retries with the same webhook-id, per-order ordering, DEAD, redelivery, SSRF guard."""

import uuid
from contextlib import contextmanager

import pytest_asyncio
from sqlalchemy import select
from standardwebhooks import Webhook

from xinren_notify.models import WebhookDelivery
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered, OrderShipped
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.events import REGISTRY

from ..support import eventually, fail_times, ok

PAID = "xinren.order.paid"
SHIPPED = "xinren.order.shipped"
CANCELLED = "xinren.order.cancelled"


def run_id() -> str:
    return uuid.uuid4().hex[:10]


def cancelled(order_id: str, shop_id: str) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id, buyer_id="u_" + order_id, shop_id=shop_id, reason="buyer changed mind", by="buyer"
    )


def shipped(order_id: str, shop_id: str) -> OrderShipped:
    return OrderShipped(
        order_id=order_id, shop_id=shop_id, destination=Destination.BUYER, carrier="SF", tracking_no="SF" + order_id
    )


async def subscribe(notify, headers, url: str, event_types: list[str], **extra) -> dict:
    r = await notify.client.post(
        "/v1/webhooks", headers=headers, json={"url": url, "event_types": event_types, **extra}
    )
    assert r.status_code == 201, r.text
    return r.json()


class Hooks:
    """A partner scoped to a shop of its own (so other developers' events on the shared broker never reach its
    receiver paths), whose subscriptions are deleted when the test ends."""

    def __init__(self, notify):
        self.notify = notify
        self.shop = "shop_" + run_id()
        self.partner = notify.auth("partner", shop_id=self.shop)
        self.created: list[tuple[dict, str]] = []

    async def subscribe(self, url: str, event_types: list[str], headers: dict | None = None, **extra) -> dict:
        hook = await subscribe(self.notify, headers or self.partner, url, event_types, **extra)
        self.created.append((headers or self.partner, hook["webhook_id"]))
        return hook

    def cancelled(self, order_id: str) -> OrderCancelled:
        return cancelled(order_id, self.shop)

    async def cleanup(self) -> None:
        for headers, webhook_id in self.created:
            await self.notify.client.delete(f"/v1/webhooks/{webhook_id}", headers=headers)


@pytest_asyncio.fixture
async def hooks(notify):
    h = Hooks(notify)
    try:
        yield h
    finally:
        await h.cleanup()


async def deliveries(notify, headers, webhook_id: str, **params) -> list[dict]:
    r = await notify.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def wait_delivery(notify, headers, webhook_id: str, status: str, *, timeout: float = 15.0, **params) -> dict:
    async def check():
        items = await deliveries(notify, headers, webhook_id, **params)
        return next((d for d in items if d["status"] == status), None)

    return await eventually(check, timeout=timeout, interval=0.1, what=f"a {status} delivery")


async def test_subscribing_shows_the_secret_once_and_guards_ownership(notify, receiver, hooks):
    partner = hooks.partner
    created = await hooks.subscribe(receiver.url("unused-" + run_id()), [PAID, SHIPPED], description="ERP sync")
    assert created["webhook_id"].startswith("wh_") and created["secret"].startswith("whsec_")
    assert created["event_types"] == [PAID, SHIPPED]
    Webhook(created["secret"])  # a valid Standard Webhooks secret
    listed = (await notify.client.get("/v1/webhooks", headers=partner)).json()
    assert [w["webhook_id"] for w in listed["items"]] == [created["webhook_id"]]
    assert "secret" not in listed["items"][0]
    got = await notify.client.get(f"/v1/webhooks/{created['webhook_id']}", headers=partner)
    assert got.status_code == 200 and "secret" not in got.json()

    other = notify.auth("partner", shop_id=hooks.shop)
    assert (await notify.client.get(f"/v1/webhooks/{created['webhook_id']}", headers=other)).status_code == 404
    assert (await notify.client.get("/v1/webhooks", headers=other)).json()["items"] == []
    assert (await notify.client.delete(f"/v1/webhooks/{created['webhook_id']}", headers=other)).status_code == 404
    assert (
        await notify.client.get(f"/v1/webhooks/{created['webhook_id']}/deliveries", headers=other)
    ).status_code == 404
    assert (
        await notify.client.get(f"/v1/webhooks/{created['webhook_id']}", headers=notify.auth("admin"))
    ).status_code == 200
    for role, claims in (("buyer", {}), ("seller", {"shop_id": "s1"})):
        r = await notify.client.post(
            "/v1/webhooks", headers=notify.auth(role, **claims), json={"url": receiver.url("x"), "event_types": ["*"]}
        )
        assert r.status_code == 403
    assert (await notify.client.get("/v1/webhooks", headers=notify.auth("buyer"))).status_code == 403

    # Idempotency-Key: the same request again answers the same subscription and secret, creating nothing.
    key = {"Idempotency-Key": "create-" + run_id()}
    body = {"url": receiver.url("idem-" + run_id()), "event_types": ["*"]}
    first = await notify.client.post("/v1/webhooks", headers={**other, **key}, json=body)
    second = await notify.client.post("/v1/webhooks", headers={**other, **key}, json=body)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert len((await notify.client.get("/v1/webhooks", headers=other)).json()["items"]) == 1
    hooks.created.append((other, first.json()["webhook_id"]))

    r = await notify.client.delete(f"/v1/webhooks/{created['webhook_id']}", headers=partner)
    assert r.status_code == 204
    assert (await notify.client.get(f"/v1/webhooks/{created['webhook_id']}", headers=partner)).status_code == 404


async def test_bad_subscriptions_are_refused_with_nothing_created(notify, receiver):
    partner = notify.auth("partner", shops=["shop_" + run_id()])
    cases = [
        ({"url": receiver.url("a"), "event_types": ["xinren.order.teleported"]}, 422, "UNKNOWN_EVENT_TYPE"),
        ({"url": "ftp://example.com/x", "event_types": ["*"]}, 422, "WEBHOOK_URL_REFUSED"),
        ({"url": "not a url", "event_types": ["*"]}, 422, "WEBHOOK_URL_REFUSED"),
        ({"url": "http://user:pw@example.com/x", "event_types": ["*"]}, 422, "WEBHOOK_URL_REFUSED"),
        ({"url": "http://no-such-host.invalid/x", "event_types": ["*"]}, 422, "WEBHOOK_URL_UNRESOLVABLE"),
        ({"url": receiver.url("a"), "event_types": []}, 422, "VALIDATION_ERROR"),
        ({"url": receiver.url("a")}, 422, "VALIDATION_ERROR"),
        ({"url": receiver.url("a"), "event_types": ["*"], "surprise": 1}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        r = await notify.client.post("/v1/webhooks", headers=partner, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    assert (await notify.client.get("/v1/webhooks", headers=partner)).json()["items"] == []


@contextmanager
def private_addresses_forbidden(notify):
    notify.settings.webhook_allow_private = False
    try:
        yield
    finally:
        notify.settings.webhook_allow_private = True


async def test_private_and_loopback_addresses_are_refused_at_subscription_and_at_send_time(
    notify, receiver, publish, hooks
):
    partner = hooks.partner
    with private_addresses_forbidden(notify):
        for url in (
            receiver.url("ssrf"),
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:9/x",
            "http://localhost:9/x",
            "http://10.0.0.1/x",
        ):
            r = await notify.client.post("/v1/webhooks", headers=partner, json={"url": url, "event_types": ["*"]})
            assert r.status_code == 422 and r.json()["error"]["code"] == "WEBHOOK_URL_REFUSED", url
            assert r.json()["error"]["details"]["refused"]

    # Accepted while allowed; refused when sending once it is not (as if the name now resolved elsewhere).
    name = "ssrf-send-" + run_id()
    hook = await hooks.subscribe(receiver.url(name, ok()), [CANCELLED])
    order_id = "ord_" + run_id()
    with private_addresses_forbidden(notify):
        await publish(hooks.cancelled(order_id), source="/xinren/order")
        attempt = await eventually(
            lambda: _first_attempted(notify, partner, hook["webhook_id"]), what="a refused attempt"
        )
        assert attempt["last_error"].startswith("refused") and attempt["last_status_code"] is None
        assert receiver.of(name) == []


async def _first_attempted(notify, headers, webhook_id):
    items = await deliveries(notify, headers, webhook_id)
    return next((d for d in items if d["attempts"] >= 1), None)


async def test_a_receiver_failing_three_times_gets_the_event_four_times_same_id_valid_signature(
    notify, receiver, publish, hooks
):
    name = "fail3-" + run_id()
    partner = hooks.partner
    hook = await hooks.subscribe(receiver.url(name, fail_times(3)), [CANCELLED])
    order_id = "ord_" + run_id()
    (sent,) = await publish(hooks.cancelled(order_id), source="/xinren/order")

    calls = await receiver.wait_for(name, count=4)
    assert len({c.headers["webhook-id"] for c in calls}) == 1 and calls[0].headers["webhook-id"] == sent.id
    verifier = Webhook(hook["secret"])
    for call in calls:
        event = verifier.verify(call.body, call.headers)  # raises unless the signature is valid
        assert event["id"] == sent.id and event["type"] == CANCELLED and event["specversion"] == "1.0"
        assert event["subject"] == order_id and event["data"]["order_id"] == order_id
        assert call.headers["content-type"] == "application/json"
    assert [c.status for c in calls] == [500, 500, 500, 200]
    assert calls[1].at - calls[0].at < 10  # the first retry comes within 10 s

    delivery = await wait_delivery(notify, partner, hook["webhook_id"], "DELIVERED")
    assert delivery["attempts"] == 4 and delivery["last_status_code"] == 200 and delivery["event_id"] == sent.id
    assert delivery["order_id"] == order_id and delivery["next_attempt_at"] is None
    detail = (
        await notify.client.get(
            f"/v1/webhooks/{hook['webhook_id']}/deliveries/{delivery['delivery_id']}", headers=partner
        )
    ).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 500, 200]
    assert detail["event"]["id"] == sent.id
    assert len(receiver.of(name)) == 4  # and no fifth

    # A tampered body fails verification: the signature covers it.
    forged = calls[-1].body.replace(order_id.encode(), b"ord_someone_else")
    try:
        verifier.verify(forged, calls[-1].headers)
    except Exception as exc:
        assert type(exc).__name__ == "WebhookVerificationError"
    else:
        raise AssertionError("a tampered body verified")


async def test_events_of_one_order_arrive_in_order_while_other_orders_go_on(notify, receiver, publish, hooks):
    name = "order-" + run_id()
    seen = {"cancelled": 0}

    async def fail_the_first_event_twice(index, call):
        if call.type == CANCELLED:
            seen["cancelled"] += 1
            return 503 if seen["cancelled"] <= 2 else 200
        return 200

    hook = await hooks.subscribe(
        receiver.url(name, fail_the_first_event_twice), [CANCELLED, SHIPPED, "xinren.order.delivered"]
    )
    order_a, order_b = "ord_a_" + run_id(), "ord_b_" + run_id()
    await publish(hooks.cancelled(order_a), shipped(order_a, hooks.shop), source="/xinren/order")
    await publish(
        OrderDelivered(order_id=order_b, shop_id=hooks.shop, delivered_at="2025-05-20T08:00:00Z"),
        source="/xinren/order",
    )

    calls = await receiver.wait_for(name, lambda c: c.status == 200, count=3)
    of_a = [c for c in receiver.of(name) if c.subject == order_a]
    assert [(c.type, c.status) for c in of_a] == [(CANCELLED, 503), (CANCELLED, 503), (CANCELLED, 200), (SHIPPED, 200)]
    a_done = of_a[2].at
    (b_call,) = [c for c in calls if c.subject == order_b]
    assert b_call.at < a_done  # another order is not held up by order A's retries
    verifier = Webhook(hook["secret"])
    assert [verifier.verify(c.body, c.headers)["type"] for c in of_a] == [CANCELLED, CANCELLED, CANCELLED, SHIPPED]


async def test_a_receiver_that_never_answers_ends_dead_and_redelivery_works(notify, receiver, publish, hooks):
    name = "hang-" + run_id()
    partner = hooks.partner
    hook = await hooks.subscribe(receiver.url(name, receiver.hang_until_released()), [CANCELLED])
    order_id = "ord_" + run_id()
    (sent,) = await publish(hooks.cancelled(order_id), source="/xinren/order")

    dead = await wait_delivery(notify, partner, hook["webhook_id"], "DEAD", timeout=20)
    hung = receiver.of(name)
    assert dead["attempts"] == len(hung) >= 3  # first try, retries, and the last try as the window closes
    assert dead["last_error"].startswith("timeout") and dead["next_attempt_at"] is None
    assert {c.headers["webhook-id"] for c in hung} == {sent.id}
    assert (await deliveries(notify, partner, hook["webhook_id"], status="DEAD"))[0]["delivery_id"] == dead[
        "delivery_id"
    ]

    # The partner fixes its endpoint and asks for the event again.
    receiver.behaviours[name] = ok()
    url = f"/v1/webhooks/{hook['webhook_id']}/deliveries/{dead['delivery_id']}/redeliver"
    r = await notify.client.post(url, headers=partner)
    assert r.status_code == 202 and r.json()["status"] == "PENDING"
    done = await wait_delivery(notify, partner, hook["webhook_id"], "DELIVERED")
    assert done["delivery_id"] == dead["delivery_id"] and done["attempts"] == dead["attempts"] + 1
    last = receiver.of(name)[-1]
    assert (
        last.headers["webhook-id"] == sent.id
        and Webhook(hook["secret"]).verify(last.body, last.headers)["id"] == sent.id
    )

    # A delivered event can be asked for again too; unknown deliveries and strangers get 404.
    assert (await notify.client.post(url, headers=partner)).status_code == 202
    await receiver.wait_for(name, lambda c: c.status == 200, count=2)
    assert (
        await notify.client.post(f"/v1/webhooks/{hook['webhook_id']}/deliveries/dlv_nope/redeliver", headers=partner)
    ).status_code == 404
    assert (await notify.client.post(url, headers=notify.auth("partner", shop_id=hooks.shop))).status_code == 404


async def test_deleting_a_subscription_stops_its_deliveries(notify, receiver, publish, hooks):
    partner = hooks.partner
    gone, kept = "gone-" + run_id(), "kept-" + run_id()
    deleted = await hooks.subscribe(receiver.url(gone, ok()), [CANCELLED])
    await hooks.subscribe(receiver.url(kept, ok()), [CANCELLED])
    assert (await notify.client.delete(f"/v1/webhooks/{deleted['webhook_id']}", headers=partner)).status_code == 204
    order_id = "ord_" + run_id()
    await publish(hooks.cancelled(order_id), source="/xinren/order")
    await receiver.wait_for(kept, lambda c: c.subject == order_id)
    assert receiver.of(gone) == []


async def test_a_partner_scoped_to_a_shop_only_gets_that_shops_events(notify, receiver, publish, hooks):
    shop = hooks.shop
    scoped_name, all_name = "scoped-" + run_id(), "all-" + run_id()
    scoped = await hooks.subscribe(receiver.url(scoped_name, ok()), [CANCELLED])
    assert scoped["shops"] == [shop] and scoped["shop_id"] is None
    await hooks.subscribe(receiver.url(all_name, ok()), [CANCELLED], headers=notify.auth("admin"))
    mine, theirs = "ord_" + run_id(), "ord_" + run_id()
    await publish(
        cancelled(mine, shop_id=shop), cancelled(theirs, shop_id="shop_other_" + run_id()), source="/xinren/order"
    )
    # Both events reached the unscoped subscription: their deliveries for the scoped one were decided then too.
    await receiver.wait_for(all_name, lambda c: c.subject in (mine, theirs), count=2)
    await receiver.wait_for(scoped_name, lambda c: c.subject == mine)
    assert [c.subject for c in receiver.of(scoped_name)] == [mine]


async def test_every_event_type_can_be_subscribed(notify, receiver, hooks):
    hook = await hooks.subscribe(receiver.url("all-types-" + run_id()), sorted(REGISTRY))
    assert hook["event_types"] == sorted(REGISTRY)
    star = await hooks.subscribe(receiver.url("star-" + run_id()), ["*", PAID])
    assert star["event_types"] == ["*"]


async def test_the_stored_create_response_with_the_secret_is_forgotten_after_the_replay_period(notify, receiver, hooks):
    from sqlalchemy import func, select

    from xinren_notify.handlers.timers import SECRET_REPLAY_TIMER, on_secret_replay_expiry

    runtime = notify.app.state.runtime
    partner = hooks.partner
    key = {"Idempotency-Key": "forget-" + run_id()}
    created = (
        await notify.client.post(
            "/v1/webhooks", headers={**partner, **key}, json={"url": receiver.url("forget"), "event_types": ["*"]}
        )
    ).json()
    hooks.created.append((partner, created["webhook_id"]))
    table = runtime.tables.idempotency

    async def stored() -> int:
        async with runtime.transaction() as session:
            return (
                await session.execute(
                    select(func.count()).select_from(table).where(table.c.key == key["Idempotency-Key"])
                )
            ).scalar_one()

    assert await stored() == 1
    async with runtime.transaction() as session:
        assert await runtime.timers.pending(session, SECRET_REPLAY_TIMER, created["webhook_id"]) is not None
    notify.settings.webhook_secret_replay_seconds = 0.0
    try:
        async with runtime.transaction() as session:
            await on_secret_replay_expiry(session, None, runtime)
    finally:
        notify.settings.webhook_secret_replay_seconds = 3600.0
    assert await stored() == 0


async def test_webhooks_and_the_delivery_log_page_newest_first_with_signed_cursors(notify, receiver, publish, hooks):
    partner = hooks.partner
    created = [(await hooks.subscribe(receiver.url(f"page-{i}-" + run_id(), ok()), [CANCELLED])) for i in range(3)]

    async def all_pages(path: str, **params) -> list[list[dict]]:
        pages, cursor = [], None
        while True:
            query = {"limit": 2, **params} | ({"cursor": cursor} if cursor else {})
            r = await notify.client.get(path, headers=partner, params=query)
            assert r.status_code == 200, r.text
            pages.append(r.json()["items"])
            cursor = r.json()["next_cursor"]
            if not cursor:
                return pages

    pages = await all_pages("/v1/webhooks")
    assert [len(p) for p in pages] == [2, 1]
    assert [w["webhook_id"] for p in pages for w in p] == [w["webhook_id"] for w in reversed(created)]

    hook = created[0]["webhook_id"]
    order_id = "ord_" + run_id()  # one order: one partition, so the three are queued in the order sent
    sent = await publish(*(hooks.cancelled(order_id) for _ in range(3)), source="/xinren/order")

    async def three_delivered():
        items = await deliveries(notify, partner, hook, status="DELIVERED")
        return items if len(items) == 3 else None

    await eventually(three_delivered, timeout=15, interval=0.1, what="three deliveries")
    pages = await all_pages(f"/v1/webhooks/{hook}/deliveries", status="DELIVERED")
    assert [len(p) for p in pages] == [2, 1]
    assert [d["event_id"] for p in pages for d in p] == [e.id for e in reversed(sent)]

    forged = "eyJ4IjoxfQ.AAAAAAAAAAAAAAAA"
    for path in ("/v1/webhooks", f"/v1/webhooks/{hook}/deliveries"):
        r = await notify.client.get(path, headers=partner, params={"cursor": forged})
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_CURSOR"


async def test_deleting_a_subscription_cancels_its_open_deliveries_and_no_others(notify, receiver, publish, hooks):
    partner = hooks.partner
    failing, kept = "failing-" + run_id(), "kept-" + run_id()
    deleted = await hooks.subscribe(receiver.url(failing, fail_times(1_000)), [CANCELLED])
    other = await hooks.subscribe(receiver.url(kept, ok()), [CANCELLED])
    orders = ["ord_" + run_id() for _ in range(3)]
    for order_id in orders:
        await publish(hooks.cancelled(order_id), source="/xinren/order")

    async def statuses(webhook_id: str) -> list[str]:
        async with notify.app.state.runtime.session_factory() as s:
            rows = await s.execute(select(WebhookDelivery.status).where(WebhookDelivery.webhook_id == webhook_id))
            return sorted(str(status) for status in rows.scalars())

    async def all_queued_and_one_failed() -> bool:
        found = await statuses(deleted["webhook_id"])
        return len(found) == len(orders) and "RETRYING" in found

    await eventually(all_queued_and_one_failed, timeout=15, interval=0.1, what="three deliveries, one failed")
    assert (await notify.client.delete(f"/v1/webhooks/{deleted['webhook_id']}", headers=partner)).status_code == 204

    async def all_cancelled() -> bool:
        found = await statuses(deleted["webhook_id"])
        return len(found) == len(orders) and set(found) == {"CANCELLED"}

    await eventually(all_cancelled, timeout=15, interval=0.1, what="every open delivery of the deleted hook cancelled")

    async def all_delivered() -> bool:
        return await statuses(other["webhook_id"]) == ["DELIVERED"] * len(orders)

    await eventually(all_delivered, timeout=15, interval=0.1, what="the other subscription's deliveries delivered")
