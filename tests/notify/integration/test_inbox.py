"""The inbox: every concerned person gets one notification per event, in Chinese, whatever the redeliveries."""

import asyncio
import uuid

import asyncpg
from sqlalchemy import text

from xinren_notify.handlers.inbox import record_event
from xinren_shared import sql
from xinren_shared.contracts.orders import OrderDelivered, OrderItem, OrderPaid
from xinren_shared.contracts.qc import QcCaseOpened, QcDispatched, QcPassed
from xinren_shared.contracts.trust import ActionKind, TrustActionTaken, TrustSubject, Violation
from xinren_shared.contracts.vocabulary import DispatchTarget
from xinren_shared.events import Envelope
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.roundtrips import RoundTrips

from ..support import eventually


def ids() -> dict[str, str]:
    run = uuid.uuid4().hex[:10]
    return {
        "order_id": f"ord_{run}",
        "buyer_id": f"u_{run}",
        "shop_id": f"shop_{run}",
        "host_id": f"host_{run}",
        "warehouse_id": f"wh_{run}",
    }


def case_opened(p: dict[str, str]) -> QcCaseOpened:
    return QcCaseOpened(
        order_id=p["order_id"],
        case_id=f"qc_{p['order_id']}",
        shop_id=p["shop_id"],
        buyer_id=p["buyer_id"],
        warehouse_id=p["warehouse_id"],
        warehouse_address="广东省四会市玉器城质检中心",
        inbound_deadline="2025-05-25T04:00:00Z",
    )


def paid(p: dict[str, str], **extra) -> OrderPaid:
    return OrderPaid(
        order_id=p["order_id"],
        buyer_id=p["buyer_id"],
        shop_id=p["shop_id"],
        host_id=p.get("host_id"),
        items=[OrderItem(sku_id="sku_jade", title="冰种翡翠手镯", category="jade", unit_price_fen=128000, quantity=1)],
        paid_fen=128000,
        qc_required=True,
        category="jade",
        **extra,
    )


async def inbox(notify, headers, **params) -> list[dict]:
    r = await notify.client.get("/v1/notifications", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def wait_inbox(notify, headers, count: int, **params) -> list[dict]:
    async def check():
        items = await inbox(notify, headers, **params)
        return items if len(items) >= count else None

    return await eventually(check, what=f"{count} notification(s)")


async def test_paid_then_qc_passed_notifies_buyer_and_seller_once_each_in_chinese(notify, publish):
    p = ids()
    buyer = notify.auth("buyer", p["buyer_id"])
    seller = notify.auth("seller", shop_id=p["shop_id"])
    other_seller = notify.auth("seller", shop_id=f"shop_other_{uuid.uuid4().hex[:6]}")
    # qc.passed without buyer_id: the order view learnt from order.paid fills it in.
    passed = Envelope.of(
        QcPassed(order_id=p["order_id"], case_id="qc_1", shop_id=p["shop_id"], certificate_no="XR-QC-1"), "/xinren/qc"
    )
    await publish(paid(p), source="/xinren/order")
    await publish(paid(p, reask=True), source="/xinren/order")  # a consistency repair asking QC again: no new fact
    await publish(passed, passed)  # the same event twice: a redelivery
    # A later event of the same order (same key, same partition): once it is in, the duplicates were handled.
    await publish(
        QcDispatched(order_id=p["order_id"], case_id="qc_1", to=DispatchTarget.BUYER, carrier="SF", tracking_no="SF1"),
        source="/xinren/qc",
    )

    items = await wait_inbox(notify, buyer, 3)
    assert [i["event_type"] for i in items] == ["xinren.qc.dispatched", "xinren.qc.passed", "xinren.order.paid"]
    paid_note, passed_note = items[2], items[1]
    assert paid_note["title"] == "支付成功" and paid_note["lang"] == "zh"
    assert "¥1,280.00" in paid_note["body"] and "质检仓" in paid_note["body"]
    assert passed_note["title"] == "质检通过" and "XR-QC-1" in passed_note["body"]
    assert passed_note["body_en"].startswith("Good news") and passed_note["data"]["certificate_no"] == "XR-QC-1"
    assert all(i["order_id"] == p["order_id"] and not i["read"] for i in items)
    assert [i["seq"] for i in items] == sorted((i["seq"] for i in items), reverse=True)

    shop_items = await wait_inbox(notify, seller, 3)
    assert [i["event_type"] for i in shop_items] == ["xinren.qc.dispatched", "xinren.qc.passed", "xinren.order.paid"]
    assert shop_items[2]["title"] == "新订单已付款（需质检）" and shop_items[1]["title"] == "质检通过"
    assert await inbox(notify, other_seller) == []

    host_items = await wait_inbox(notify, notify.auth("host", p["host_id"]), 1)
    assert [i["event_type"] for i in host_items] == ["xinren.order.paid"]

    english = await inbox(notify, {**buyer, "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert english[1]["title"] == "Quality check passed" and english[1]["lang"] == "en"
    assert english[1]["title_zh"] == "质检通过"


async def test_warehouse_staff_and_inspectors_share_the_warehouse_inbox(notify, publish):
    p = ids()
    opened = case_opened(p)
    await publish(opened, source="/xinren/qc")
    staff = await wait_inbox(notify, notify.auth("warehouse", warehouse_id=p["warehouse_id"]), 1)
    assert staff[0]["title"] == "新质检单" and "2025-05-25 12:00（北京时间）" in staff[0]["body"]
    assert await inbox(notify, notify.auth("inspector", warehouse_id=p["warehouse_id"])) == staff
    seller_note = (await wait_inbox(notify, notify.auth("seller", shop_id=p["shop_id"]), 1))[0]
    assert "广东省四会市玉器城质检中心" in seller_note["body"]
    assert await inbox(notify, notify.auth("warehouse", warehouse_id="wh_elsewhere_" + p["order_id"])) == []


async def test_mark_read_unread_filter_and_pagination(notify, publish):
    p = ids()
    buyer = notify.auth("buyer", p["buyer_id"])
    await publish(paid(p), source="/xinren/order")
    for n in range(3):
        await publish(
            QcDispatched(
                order_id=p["order_id"], case_id=f"qc_{n}", to=DispatchTarget.BUYER, carrier="SF", tracking_no=f"SF{n}"
            ),
            source="/xinren/qc",
        )
    items = await wait_inbox(notify, buyer, 4)
    first = items[-1]

    r = await notify.client.post(f"/v1/notifications/{first['notification_id']}/read", headers=buyer)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    again = await notify.client.post(f"/v1/notifications/{first['notification_id']}/read", headers=buyer)
    assert again.status_code == 200 and again.json()["read_at"] == r.json()["read_at"]  # idempotent
    assert [i["notification_id"] for i in await inbox(notify, buyer, unread="true")] == [
        i["notification_id"] for i in items[:3]
    ]
    assert [i["notification_id"] for i in await inbox(notify, buyer, unread="false")] == [first["notification_id"]]
    assert (await notify.client.get("/v1/notifications/unread-count", headers=buyer)).json() == {"unread": 3}

    # Someone else's notification does not exist for you.
    stranger = notify.auth("buyer")
    r = await notify.client.post(f"/v1/notifications/{first['notification_id']}/read", headers=stranger)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await notify.client.post(
        f"/v1/notifications/{items[0]['notification_id']}/read",
        headers=notify.auth("seller", shop_id="not_" + p["shop_id"]),
    )
    assert r.status_code == 404
    assert (await inbox(notify, buyer, unread="true"))[0]["read"] is False  # nothing changed

    pages, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = (await notify.client.get("/v1/notifications", headers=buyer, params=params)).json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [len(page) for page in pages] == [3, 1]
    assert [i["notification_id"] for page in pages for i in page] == [i["notification_id"] for i in items]

    r = await notify.client.post("/v1/notifications/read-all", headers=buyer, json={"up_to_seq": items[1]["seq"]})
    assert r.json() == {"marked": 2}
    assert [i["notification_id"] for i in await inbox(notify, buyer, unread="true")] == [items[0]["notification_id"]]
    assert (await notify.client.post("/v1/notifications/read-all", headers=buyer)).json() == {"marked": 1}


async def test_inbox_errors(notify):
    r = await notify.client.get("/v1/notifications")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED"
    for role in ("partner", "admin"):
        r = await notify.client.get("/v1/notifications", headers=notify.auth(role))
        assert r.status_code == 403 and r.json()["error"]["code"] == "NO_INBOX"
    buyer = notify.auth("buyer")
    r = await notify.client.get("/v1/notifications", headers=buyer, params={"cursor": "not-a-cursor"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_CURSOR"
    r = await notify.client.get("/v1/notifications", headers=buyer, params={"limit": 500})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await notify.client.post("/v1/notifications/ntf_nope/read", headers=buyer)
    assert r.status_code == 404
    r = await notify.client.post("/v1/notifications/read-all", headers=buyer, json={"up_to_seq": -1})
    assert r.status_code == 422


async def test_shop_events_without_an_order_and_events_about_unknown_orders(notify, publish):
    from xinren_shared.contracts.qc import QcShopSuspended

    p = ids()
    seller = notify.auth("seller", shop_id=p["shop_id"])
    # An order nobody told us about, with nobody named: nothing to address, and nothing fails.
    await publish(OrderDelivered(order_id=p["order_id"], delivered_at="2025-05-20T08:00:00Z"), source="/xinren/order")
    await publish(QcShopSuspended(shop_id=p["shop_id"], strikes=3), source="/xinren/qc")
    (note,) = await wait_inbox(notify, seller, 1)
    assert note["event_type"] == "xinren.qc.shop_suspended" and note["order_id"] is None
    assert note["title"] == "店铺已暂停接单" and "3" in note["body"]


async def test_one_notification_per_event_and_recipient_even_past_the_consumer_inbox(notify):
    """The consumer's inbox drops redeliveries; the unique (event, recipient) constraint holds even without it,
    e.g. for an event replayed under another consumer name."""
    p = ids()
    envelope = Envelope.of(paid(p), "/xinren/order")
    runtime = notify.app.state.runtime
    for _ in range(2):
        async with runtime.transaction() as session:
            await record_event(session, envelope)
    buyer_items = await inbox(notify, notify.auth("buyer", p["buyer_id"]))
    shop_items = await inbox(notify, notify.auth("seller", shop_id=p["shop_id"]))
    assert [i["event_id"] for i in buyer_items] == [envelope.id]
    assert [i["event_id"] for i in shop_items] == [envelope.id]


async def test_a_notification_is_numbered_at_commit_so_two_batches_for_one_shop_never_wait_on_each_other(notify):
    """Two consumer batches writing to one shop's inbox at once (a flash sale's): the second is not held up by the
    first, still open, because the shop's inbox cursor is locked only while a transaction commits. The numbers follow
    the commits, so a stream resumed after its Last-Event-ID misses nothing."""
    sessions = notify.app.state.runtime.session_factory
    shop_id = f"shop_{uuid.uuid4().hex[:10]}"
    early, late = ({**ids(), "shop_id": shop_id} for _ in range(2))
    early_event, late_event = (Envelope.of(paid(p), "/xinren/order") for p in (early, late))

    async with sessions() as first:
        async with first.begin():
            await record_event(first, early_event)  # open: not committed yet

            async def second() -> None:
                async with sessions() as s, s.begin():
                    await record_event(s, late_event)

            await asyncio.wait_for(second(), 10)  # commits while the first is still open
    seller = notify.auth("seller", shop_id=shop_id)
    items = await wait_inbox(notify, seller, 2)
    numbers = {item["order_id"]: item["seq"] for item in items}
    assert numbers == {late["order_id"]: 1, early["order_id"]: 2}  # in the order they committed


async def test_an_event_is_one_statement_its_view_notifications_and_subscriptions_together(notify):
    """Every event of every order comes here: the order view, the notifications (their recipients given back to be
    announced once committed) and the subscriptions that want it are one round trip; only queuing partner
    deliveries would be another."""
    runtime = notify.app.state.runtime
    async with runtime.transaction() as session:
        await record_event(session, Envelope.of(paid(ids()), "/xinren/order"))  # warm: the statement is prepared
    p = ids()
    with RoundTrips(runtime.engine.sync_engine) as rec:
        async with runtime.transaction() as session:
            mine, since = id(await sql.driver(session)), rec.mark()  # the webhook workers use the engine too
            await record_event(session, Envelope.of(paid(p), "/xinren/order"))
    record, *deliveries, end = rec.transaction(mine, since)
    assert end == "COMMIT", [record, *deliveries, end]
    assert all(part in record for part in ("INSERT INTO order_view", "INSERT INTO notification")), record
    assert "pg_notify" not in record, record  # the recipients' streams are told after the commit, from outside it
    assert "webhook_subscription" in record, record
    assert all(trip.startswith("INSERT INTO webhook_delivery") for trip in deliveries), deliveries
    # And it did its work: the buyer and the shop each have the payment; a later event naming nobody finds them.
    delivered = OrderDelivered(order_id=p["order_id"], delivered_at="2025-05-20T08:00:00Z")
    await record_event_committed(runtime, Envelope.of(delivered, "/xinren/order"))
    buyer_items = await wait_inbox(notify, notify.auth("buyer", p["buyer_id"]), 2)
    assert sorted(i["event_type"] for i in buyer_items) == ["xinren.order.delivered", "xinren.order.paid"]
    shop_items = await inbox(notify, notify.auth("seller", shop_id=p["shop_id"]))
    assert "xinren.order.paid" in {i["event_type"] for i in shop_items}


async def record_event_committed(runtime, envelope: Envelope) -> None:
    async with runtime.transaction() as session:
        await record_event(session, envelope)


async def test_the_parties_an_event_names_win_over_the_order_view_and_the_view_fills_the_rest(notify):
    """The order view's rule, kept by the event's one statement: a party the event names wins (and the view learns
    it), one it lacks comes from the view."""
    runtime = notify.app.state.runtime
    p = ids()
    moved = {**p, "shop_id": f"{p['shop_id']}_b"}  # the case names another shop than order.paid did
    opened = case_opened(moved)
    delivered = OrderDelivered(order_id=p["order_id"], delivered_at="2025-05-26T08:00:00Z")  # names nobody
    for event, source in ((paid(p), "/xinren/order"), (opened, "/xinren/qc"), (delivered, "/xinren/order")):
        await record_event_committed(runtime, Envelope.of(event, source))
    buyer_items = await wait_inbox(notify, notify.auth("buyer", p["buyer_id"]), 3)
    assert "xinren.order.delivered" in {i["event_type"] for i in buyer_items}
    moved_items = await inbox(notify, notify.auth("seller", shop_id=moved["shop_id"]))
    assert {i["event_type"] for i in moved_items} == {"xinren.qc.case_opened", "xinren.order.delivered"}
    first_items = await inbox(notify, notify.auth("seller", shop_id=p["shop_id"]))
    assert {i["event_type"] for i in first_items} == {"xinren.order.paid"}
    staff = await inbox(notify, notify.auth("warehouse", warehouse_id=p["warehouse_id"]))
    assert [i["event_type"] for i in staff] == ["xinren.qc.case_opened"]


# Index entries the backend's scans of the notification table's indexes returned (its own statistics, not yet sent).
RETURNED = text(
    "SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index WHERE indrelid = 'notification'::regclass"
)


async def test_a_commit_looks_for_its_unnumbered_notifications_once_however_many_it_wrote(notify):
    """Every notification row fires the numbering trigger; the first firing numbers them all, and the others see
    their own row numbered and return (a look-up by key) instead of looking for unnumbered rows again: the index
    entries the commit reads are a few per notification, not a few per notification for every notification."""
    p = ids()
    mine = text("SELECT count(*), count(seq) FROM notification WHERE order_id = :o")
    async with notify.app.state.runtime.transaction() as session:
        await record_event(session, Envelope.of(paid(p), "/xinren/order"))
        await record_event(session, Envelope.of(case_opened(p), "/xinren/qc"))
        written, numbered_before = (await session.execute(mine, {"o": p["order_id"]})).one()
        before = (await session.execute(RETURNED)).scalar_one()
        await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # fires the deferred triggers now
        after = (await session.execute(RETURNED)).scalar_one()
        _, numbered = (await session.execute(mine, {"o": p["order_id"]})).one()
    assert written >= 6, written  # the buyer's, the shop's, the host's, the warehouse's
    assert (numbered_before, numbered) == (0, written)
    # Each row: its own look-up, found by the one search for unnumbered rows, its numbering's look-up.
    assert after - before <= 3 * written + 2, (written, before, after)


async def test_a_commit_looks_only_at_the_notifications_written_since_it_began_to_write(notify):
    """A shop's inbox under a flash sale: another transaction holds 100 unnumbered notifications, 50 of them to the
    same shop (their index entries are there, invisible to this one). This commit looks for unnumbered rows from the
    first id it wrote on only, so it never reads the other's hundred."""
    p = ids()
    runtime = notify.app.state.runtime
    async with runtime.transaction() as other:
        for _ in range(50):  # the buyer's and the shop's notification of each
            await record_event(other, Envelope.of(paid({**ids(), "shop_id": p["shop_id"]}), "/xinren/order"))
        async with runtime.transaction() as session:
            await record_event(session, Envelope.of(paid(p), "/xinren/order"))
            before = (await session.execute(RETURNED)).scalar_one()
            await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # this one's deferred triggers, now
            after = (await session.execute(RETURNED)).scalar_one()
        await other.rollback()
    seller = notify.auth("seller", shop_id=p["shop_id"])
    assert [i["order_id"] for i in await inbox(notify, seller)] == [p["order_id"]]
    assert after - before <= 20, (before, after)  # all unnumbered rows: over 100


async def test_the_numbering_is_planned_for_the_table_as_it_is_not_as_it_was_when_the_connection_began(notify):
    """One connection numbers notifications while the table is small, then after it has grown (a flash sale's first
    minutes): its commits still find their rows by key. A plan kept from the small table (PL/pgSQL keeps one after a
    few runs) scanned the whole table for every notification; the table's own statistics count such scans."""
    url = to_plain_url(notify.app.state.runtime.settings.database_url)
    conn = await asyncpg.connect(url)
    insert = (
        "INSERT INTO notification (notification_id, recipient, event_id, event_type, title_zh, body_zh, title_en,"
        " body_en, data, occurred_at) SELECT 'ntf_' || md5(random()::text), $1, md5(random()::text), 'test',"
        " 't', 'b', 't', 'b', '{}', now() FROM generate_series(1, $2)"
    )
    seq_scans = "SELECT pg_stat_get_xact_numscans('notification'::regclass)"
    try:
        recipient = f"shop:shop_{uuid.uuid4().hex[:10]}"
        for _ in range(8):  # enough for PL/pgSQL to settle on a kept plan
            async with conn.transaction():
                await conn.execute(insert, recipient, 1)
        await conn.execute(insert, recipient, 3000)  # the table grows (no ANALYZE: no new plan for that)
        async with conn.transaction():
            await conn.execute(insert, recipient, 2)
            before = await conn.fetchval(seq_scans)
            await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            after = await conn.fetchval(seq_scans)
        numbered = await conn.fetchval("SELECT count(seq) FROM notification WHERE recipient = $1", recipient)
    finally:
        await conn.close()
    assert numbered == 8 + 3000 + 2
    assert after == before, (before, after)


async def test_a_trust_action_reaches_its_subject_and_not_the_other_party_of_the_order(notify, publish):
    """A shop's fine over an order of a live room goes to the shop, not to the room's host the order view knows;
    a host's goes to the host, not to the shop the event also names."""
    p = ids()
    await publish(paid(p), source="/xinren/order")  # the order view learns the order's host
    seller, host = notify.auth("seller", shop_id=p["shop_id"]), notify.auth("host", p["host_id"])
    await wait_inbox(notify, host, 1)
    common = {"shop_id": p["shop_id"], "host_id": p["host_id"], "order_id": p["order_id"], "step": 1}
    shop_fine = TrustActionTaken(
        subject_kind=TrustSubject.SHOP, subject_id=p["shop_id"], action_id=f"act_s_{p['order_id']}",
        kind=ActionKind.FINE, violation=Violation.COUNTERFEIT, fine_fen=50_000, reason="counterfeit", **common,
    )  # fmt: skip
    host_warning = TrustActionTaken(
        subject_kind=TrustSubject.HOST, subject_id=p["host_id"], action_id=f"act_h_{p['order_id']}",
        kind=ActionKind.WARNING, violation=Violation.COUNTERFEIT, reason="counterfeit", **common,
    )  # fmt: skip
    fine, warning = (Envelope.of(e, "/xinren/trust") for e in (shop_fine, host_warning))
    await publish(fine, warning)

    # Each event's notifications are written in one statement: once one party has it, every party that will does.
    async def holding(headers, event_id):
        return any(i["event_id"] == event_id for i in await inbox(notify, headers)) or None

    await eventually(lambda: holding(seller, fine.id), what="the shop's fine in the shop's inbox")
    await eventually(lambda: holding(host, warning.id), what="the host's warning in the host's inbox")
    assert not await holding(host, fine.id)  # the shop's fine: not the host's, though the order is the host's
    assert not await holding(seller, warning.id)  # the host's warning: not the shop's, though the event names it
