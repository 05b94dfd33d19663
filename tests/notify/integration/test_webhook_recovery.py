"""A partner catching up after an outage: the backlog of a subscription that answers again is due at once (paced),
each delivery arrives once, in order per order, signed; a partner's own recover re-sends what died; the state,
backlog and metrics show it."""

import time
import uuid
from datetime import datetime

import httpx
import pytest_asyncio
from standardwebhooks import Webhook

from xinren_notify.app import create_app
from xinren_shared.contracts.orders import OrderCancelled, OrderDelivered, OrderShipped
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.events import Event, topics

from ..conftest import Notify, notify_settings
from ..support import Call, LiveServer, eventually, start_group_at_end

RETRY = 30.0  # the slow instance's first back-off step: a catch-up within seconds cannot be the back-off's doing


def run_id() -> str:
    return uuid.uuid4().hex[:10]


def lifecycle(order_id: str, shop_id: str) -> list[Event]:
    return [
        OrderShipped(
            order_id=order_id, shop_id=shop_id, destination=Destination.BUYER, carrier="SF", tracking_no="SF" + order_id
        ),
        OrderDelivered(order_id=order_id, shop_id=shop_id, delivered_at="2025-05-20T08:00:00Z"),
        OrderCancelled(order_id=order_id, shop_id=shop_id, reason="test", by="buyer"),
    ]


class Switch:
    """A receiver that answers 503 while down, 200 once up."""

    def __init__(self) -> None:
        self.up = False
        self.up_at = 0.0

    async def __call__(self, index: int, call: Call) -> int:
        return 200 if self.up else 503

    def turn_on(self) -> None:
        self.up_at = time.monotonic()
        self.up = True


@pytest_asyncio.fixture(scope="module")
async def slow_notify(make_database, kafka_bootstrap):
    """A second notify with a production-like back-off (30 s, ×4, an hour's window) and a 1 s probe."""
    group = f"test-notify-slow-{uuid.uuid4().hex}"
    await start_group_at_end(kafka_bootstrap, group, topics())
    settings = notify_settings(
        await make_database("notify_slow"),
        kafka_bootstrap,
        group,
        webhook_first_retry_seconds=RETRY,
        webhook_backoff_factor=4.0,
        webhook_max_backoff_seconds=3600.0,
        webhook_retry_window_seconds=3600.0,
        webhook_probe_seconds=1.0,
        webhook_catchup_per_second=50.0,
    )
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Notify(app, client, server.url, settings)


async def subscribe(notify, headers, url: str, event_types: list[str], **extra) -> dict:
    r = await notify.client.post(
        "/v1/webhooks", headers=headers, json={"url": url, "event_types": event_types, **extra}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def webhook(notify, headers, webhook_id: str) -> dict:
    r = await notify.client.get(f"/v1/webhooks/{webhook_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def all_deliveries(notify, headers, webhook_id: str) -> list[dict]:
    r = await notify.client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=headers, params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def metric(text: str, name: str, webhook_id: str) -> float | None:
    prefix = f'{name}{{webhook_id="{webhook_id}"}} '
    return next((float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), None)


def assert_once_each_in_order(calls: list[Call], sent: list, secret: str) -> None:
    """Every sent event answered 200 exactly once, per order in the order sent, each signature valid."""
    verifier = Webhook(secret)
    accepted = [c for c in calls if c.status == 200]
    ids = [c.headers["webhook-id"] for c in accepted]
    assert sorted(ids) == sorted(e.id for e in sent) and len(set(ids)) == len(ids)
    for call in accepted:
        verifier.verify(call.body, call.headers)
    for order_id in {e.subject for e in sent}:
        assert [c.headers["webhook-id"] for c in accepted if c.subject == order_id] == [
            e.id for e in sent if e.subject == order_id
        ]


async def test_a_receiver_back_after_an_outage_gets_its_whole_backlog_within_seconds(slow_notify, receiver, publish):
    notify = slow_notify
    shop, name, switch = "shop_" + run_id(), "outage-" + run_id(), Switch()
    partner = notify.auth("partner", shops=[shop])
    hook = await subscribe(notify, partner, receiver.url(name, switch), ["*"])
    wid = hook["webhook_id"]
    orders = ["ord_" + run_id() for _ in range(8)]
    sent = []
    for order_id in orders:  # one order at a time: its events on one partition, in this order
        sent += await publish(*lifecycle(order_id, shop), source="/xinren/order")

    # Down: every order's first event failed once and waits on a 30 s back-off; the rest wait behind them.
    async def all_waiting():
        items = await all_deliveries(notify, partner, wid)
        retrying = [d for d in items if d["status"] == "RETRYING"]
        return len(items) == len(sent) and len(retrying) == len(orders)

    await eventually(all_waiting, timeout=30, interval=0.2, what="every order's head failed once")
    state = await webhook(notify, partner, wid)
    assert state["state"] == "FAILING" and state["failing_since"] and state["backlog"] == len(sent)

    async def backlog_metric():
        text = (await notify.client.get("/metrics")).text
        backlog = metric(text, "xinren_notify_webhook_backlog", wid)
        age = metric(text, "xinren_notify_webhook_oldest_undelivered_seconds", wid)
        return (backlog, age) if backlog == len(sent) and age and age > 0 else None

    await eventually(backlog_metric, timeout=10, interval=0.2, what="the backlog in /metrics")

    switch.turn_on()
    await receiver.wait_for(name, lambda c: c.status == 200, count=len(sent), timeout=RETRY / 2)
    accepted = [c for c in receiver.of(name) if c.status == 200]
    caught_up = accepted[-1].at - switch.up_at
    assert caught_up < 8, f"the backlog took {caught_up:.1f}s after the receiver came back"
    # Paced: 50 a second for this subscription, so 24 deliveries take about half a second, not an instant.
    assert accepted[-1].at - accepted[0].at >= (len(sent) - 1) / 50 * 0.8
    assert_once_each_in_order(receiver.of(name), sent, hook["secret"])

    async def healthy():
        got = await webhook(notify, partner, wid)
        return got if got["state"] == "HEALTHY" and got["backlog"] == 0 else None

    got = await eventually(healthy, timeout=10, interval=0.2, what="HEALTHY with no backlog")
    assert got["failing_since"] is None

    async def metric_cleared():
        text = (await notify.client.get("/metrics")).text
        return metric(text, "xinren_notify_webhook_backlog", wid) == 0

    await eventually(metric_cleared, timeout=10, interval=0.2, what="the backlog metric back to 0")
    assert all(d["status"] == "DELIVERED" for d in await all_deliveries(notify, partner, wid))


async def test_recover_sends_dead_deliveries_since_a_time_again_once_each_in_order(notify, receiver, publish):
    # The session's notify: a 3.5 s retry window, so deliveries die, and the subscription is DISABLED, quickly.
    shop, name, switch = "shop_" + run_id(), "recover-" + run_id(), Switch()
    partner = notify.auth("partner", shops=[shop])
    hook = await subscribe(notify, partner, receiver.url(name, switch), ["*"])
    wid = hook["webhook_id"]
    (before,) = await publish(lifecycle("ord_" + run_id(), shop)[0], source="/xinren/order")
    await eventually(lambda: all_deliveries(notify, partner, wid), timeout=15, what="the first delivery queued")
    a, b = "ord_a_" + run_id(), "ord_b_" + run_id()
    sent = await publish(*lifecycle(a, shop), source="/xinren/order")
    sent += await publish(*lifecycle(b, shop)[:2], source="/xinren/order")

    async def disabled():
        # The deliveries first: the webhook read after them shows at least as much (its backlog, read before them,
        # could still count the last delivery that then died).
        items = await all_deliveries(notify, partner, wid)
        got = await webhook(notify, partner, wid)
        done = got["state"] == "DISABLED" and len(items) == 6 and {d["status"] for d in items} == {"DEAD"}
        return got if done else None

    got = await eventually(disabled, timeout=30, interval=0.2, what="every delivery DEAD, the webhook DISABLED")
    assert got["disabled_at"] and got["backlog"] == 0

    # While disabled nothing is attempted: a new event is recorded DEAD at once.
    c = "ord_c_" + run_id()
    (late,) = await publish(lifecycle(c, shop)[0], source="/xinren/order")
    dead_late = await eventually(
        lambda: _delivery_of(notify, partner, wid, late.id), timeout=15, what="the late event's delivery"
    )
    assert dead_late["status"] == "DEAD" and dead_late["attempts"] == 0
    assert all(call.subject != c for call in receiver.of(name))
    sent.append(late)

    items = await all_deliveries(notify, partner, wid)
    since = min(datetime.fromisoformat(d["created_at"]) for d in items if d["event_id"] != before.id)
    calls_before = len(receiver.of(name))
    switch.turn_on()
    url = f"/v1/webhooks/{wid}/recover"
    for headers, status in (
        (notify.auth("partner", shops=[shop]), 404),  # another partner of the same shop
        (notify.auth("buyer"), 403),
    ):
        assert (await notify.client.post(url, headers=headers, json={"since": since.isoformat()})).status_code == status
    r = await notify.client.post(url, headers=partner, json={"since": "2025-05-20T08:00:00"})  # no time zone
    assert r.status_code == 422
    assert len(receiver.of(name)) == calls_before  # refusals changed nothing

    r = await notify.client.post(url, headers=partner, json={"since": since.isoformat()})
    assert r.status_code == 202, r.text
    assert r.json()["requeued"] == len(sent) == 6

    await receiver.wait_for(name, lambda c: c.status == 200, count=len(sent))
    assert_once_each_in_order(receiver.of(name), sent, hook["secret"])
    assert all(c.headers["webhook-id"] != before.id for c in receiver.of(name) if c.status == 200)

    async def healthy():
        got = await webhook(notify, partner, wid)
        return got if got["state"] == "HEALTHY" and got["backlog"] == 0 else None

    await eventually(healthy, timeout=10, interval=0.2, what="HEALTHY again")
    statuses = {d["event_id"]: d["status"] for d in await all_deliveries(notify, partner, wid)}
    assert statuses.pop(before.id) == "DEAD" and set(statuses.values()) == {"DELIVERED"}
    assert len([c for c in receiver.of(name) if c.status == 200]) == len(sent)  # and nothing twice


async def _delivery_of(notify, headers, webhook_id: str, event_id: str) -> dict | None:
    return next((d for d in await all_deliveries(notify, headers, webhook_id) if d["event_id"] == event_id), None)
