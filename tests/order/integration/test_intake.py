"""Order intake (POST /v1/orders) as lean as promised: 2 round trips with an Idempotency-Key (the budget is 8) and
no transaction of their own, nothing locked until the commit takes the stock, and no oversell however many buyers
race for one SKU."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from sqlalchemy import func, select
from sqlmodel import col

from tests.order.conftest import ADDRESS, Driver, buyer, order_settings, uid
from xinren_order.app import create_app
from xinren_order.models import OrderTimelineEntry, SalesOrder
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.http import serve
from xinren_shared.testing.roundtrips import RoundTrips

ROUND_TRIPS = 2  # the read with the key's answer; the order's writes, its event and the key's answer (commits)


@pytest_asyncio.fixture(scope="module")
async def quiet(make_database, kafka_bootstrap) -> Driver:
    """An app of its own with no relay, consumer or timer worker, so that every statement its engine sends is a
    request's."""
    settings = order_settings(
        await make_database("order_intake"), kafka_bootstrap, run_relay=False, run_consumers=False, run_timers=False
    )
    app = create_app(settings)
    async with serve(app) as client:
        yield Driver(client, app)


def Recorder(driver: Driver) -> RoundTrips:
    """Every round trip of the app's engine: SQLAlchemy's statements, the driver's, BEGIN and COMMIT/ROLLBACK."""
    return RoundTrips(driver.app.state.runtime.engine.sync_engine)


def body(shop_id: str, *lines: tuple[str, int], host_id: str | None = None) -> dict[str, Any]:
    items = [{"sku_id": sku, "quantity": q} for sku, q in lines]
    return {
        "shop_id": shop_id,
        "items": items,
        "shipping_address": ADDRESS,
        **({"host_id": host_id} if host_id else {}),
    }


async def test_an_order_takes_2_round_trips_and_locks_the_stock_only_at_its_commit(quiet):
    shop = await quiet.shop()
    a, b = await quiet.product(shop, stock=5), await quiet.product(shop, stock=5)
    me = uid("u")
    await quiet.order(shop, a, me)  # warm: the pool's connection is open, the statements are prepared
    with Recorder(quiet) as rec:
        r = await quiet.client.post(
            "/v1/orders", json=body(shop.shop_id, (a, 1), (b, 2)), headers={**buyer(me), "Idempotency-Key": uid("k")}
        )
    assert r.status_code == 201, r.text
    trips = rec.trips
    assert len(trips) <= ROUND_TRIPS, "\n".join(t[:120] for t in trips)
    # No transaction of its own: the write commits by itself (PostgreSQL's implicit transaction).
    assert not any(t in ("BEGIN", "COMMIT", "ROLLBACK") for t in trips), trips
    # No statement of the service locks a product: the order's insert takes the stock when it commits.
    assert not any("UPDATE product" in sql or "FOR UPDATE" in sql for sql in trips), trips
    read, write = trips
    assert "FROM idempotency_key" in read and "JOIN shop " in read and "JOIN product " in read, read
    # The order, its timeline entry, its timer, its event and the key's answer: one statement. The relay is woken
    # after the commit, from outside it: a NOTIFY would make the commit hold PostgreSQL's one notification lock
    # until it is on disk.
    for table in ("sales_order", "order_timeline_entry", "timer", "outbox_event", "idempotency_key"):
        assert f"INSERT INTO {table} " in write, (table, write)
    assert not any("pg_notify" in sql for sql in trips), trips
    left = [
        (await quiet.client.get(f"/v1/products/{sku}", headers=buyer(me))).json()["stock_available"] for sku in (a, b)
    ]
    assert left == [5 - 1 - 1, 5 - 2]  # taken at the commit: the warm-up's unit of a, then this order's lines


async def test_paying_takes_2_round_trips_and_writes_the_order_once(quiet):
    """No transaction of its own: the order read with its shop's return address, its timeline and the key's answer;
    then one statement for everything paying writes (the order's row, the ledger transaction with its entries, the
    PAID timeline entry, the unpaid timer's cancellation, order.paid, the key's answer), which commits on its own.
    The answer's timeline is the one read plus the new entry: nothing is read back."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=5)
    me = uid("u")
    first, second = [await quiet.order(shop, sku, me) for _ in range(2)]

    async def pay(order: dict[str, Any]) -> Any:
        paid = {"amount_fen": order["total_fen"], "method": "SANDBOX"}
        headers = {**buyer(me), "Idempotency-Key": uid("k")}
        return await quiet.client.post(f"/v1/orders/{order['order_id']}/pay", json=paid, headers=headers)

    assert (await pay(first)).status_code == 200  # warm: statements prepared
    with Recorder(quiet) as rec:
        r = await pay(second)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "PAID" and answer["paid_fen"] == second["total_fen"]
    trips = rec.trips
    assert len(trips) <= 2, "\n".join(t[:120] for t in trips)
    assert not any(t in ("BEGIN", "COMMIT", "ROLLBACK") for t in trips), trips
    assert not any("aftersale" in t for t in trips), trips
    read, written = trips
    assert "FROM idempotency_key" in read and "JOIN shop " in read and "order_timeline_entry" in read, read
    # The order's row, the ledger transaction and its entries, the timeline entry, the timer, the event and the
    # key's answer: one statement.
    parts = ("UPDATE sales_order", "INSERT INTO ledger_transaction", "INSERT INTO ledger_entry", "UPDATE timer")
    for part in (*parts, "INSERT INTO order_timeline_entry", "INSERT INTO outbox_event", "INSERT INTO idempotency_key"):
        assert part in written, (part, written)
    # The answer's timeline is what a read of the order shows.
    again = await quiet.client.get(f"/v1/orders/{second['order_id']}", headers=buyer(me))
    assert again.json()["timeline"] == answer["timeline"] and [e["status"] for e in answer["timeline"]] == [
        "CREATED",
        "PAID",
    ]
    for field in ("status", "paid_at", "ship_by", "updated_at", "payment_ref", "return_address"):
        assert again.json()[field] == answer[field], field


async def test_an_order_naming_a_host_takes_no_more_round_trips(quiet):
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=5)
    host_id = await quiet.cooperating_host(shop, commission_bps=700)
    me = uid("u")
    await quiet.order(shop, sku, me, host_id=host_id)
    with Recorder(quiet) as rec:
        r = await quiet.client.post(
            "/v1/orders",
            json=body(shop.shop_id, (sku, 1), host_id=host_id),
            headers={**buyer(me), "Idempotency-Key": uid("k")},
        )
    assert r.status_code == 201, r.text
    assert r.json()["host_commission_bps"] == 700
    assert len(rec.trips) <= ROUND_TRIPS, "\n".join(t[:120] for t in rec.trips)


async def test_stock_short_when_read_refuses_before_anything_is_written(quiet):
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=1)
    with Recorder(quiet) as rec:
        r = await quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 2)), headers=buyer(uid("u")))
    assert r.status_code == 409 and r.json()["error"]["code"] == "OUT_OF_STOCK"
    assert r.json()["error"]["details"] == {"sku_id": sku, "requested": 2, "available": 1}
    assert not any(sql.startswith(("INSERT", "UPDATE", "WITH")) for sql in rec.trips), rec.trips


async def _orders_of(driver: Driver, shop_id: str) -> tuple[int, int, int, int]:
    """(orders, their timeline entries, their live unpaid timers, their order.created outbox rows) of the shop."""
    runtime = driver.app.state.runtime
    timer, outbox = runtime.tables.timer, runtime.tables.outbox
    ids = select(SalesOrder.order_id).where(SalesOrder.shop_id == shop_id)
    async with runtime.session_factory() as s:
        orders = (await s.execute(select(func.count()).select_from(ids.subquery()))).scalar_one()
        entries = (await s.execute(select(func.count()).where(col(OrderTimelineEntry.order_id).in_(ids)))).scalar_one()
        timers = (
            await s.execute(select(func.count()).where(timer.c.kind == "order.unpaid_cancel", timer.c.key.in_(ids)))
        ).scalar_one()
        created = (
            await s.execute(select(func.count()).where(outbox.c.type == "xinren.order.created", outbox.c.key.in_(ids)))
        ).scalar_one()
    return orders, entries, timers, created


async def test_more_buyers_than_stock_hammering_one_sku_get_exactly_the_stock(quiet):
    """120 buyers at once for 37 units, 2 each (one buyer with a key asks twice): exactly 18 orders, 1 unit left,
    every refusal OUT_OF_STOCK with what was left when it was refused, and nothing of a refused order written."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, price_fen=1_990, stock=37)
    keyed = {**buyer(uid("u")), "Idempotency-Key": uid("k")}

    async def place(headers: dict[str, str]):
        return await quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 2)), headers=headers)

    responses = await asyncio.gather(*(place(buyer(uid("u"))) for _ in range(119)), place(keyed))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 18, 409: 102}, statuses
    for r in responses:
        if r.status_code == 409:
            error = r.json()["error"]
            assert error["code"] == "OUT_OF_STOCK", error
            assert error["details"]["requested"] == 2 and error["details"]["available"] < 2, error
    again = await place(keyed)  # the keyed request's answer, whichever it was, is answered again
    assert again.status_code in (201, 409) and again.headers.get("idempotent-replayed") == "true"
    stock = (await quiet.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"]
    assert stock == 1
    assert await _orders_of(quiet, shop.shop_id) == (18, 18, 18, 18)
    await quiet.ledger_ok()


async def test_stock_taken_by_another_order_meanwhile_refuses_it_and_writes_nothing(quiet):
    """The read saw stock; by the time this order takes it, a transaction holding the row has taken the last units:
    the order waits on the row only in its commit, then is refused with the stock as it is now."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=3)
    me = uid("u")
    r, waiting = await _while_held(
        quiet,
        "UPDATE product_stock SET available = 0 WHERE sku_id = $1",
        sku,
        quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 1)), headers=buyer(me)),
    )
    # Its one write, as it commits: which takes the stock (the order's deferred trigger).
    assert "INSERT INTO sales_order" in waiting, waiting
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "OUT_OF_STOCK"
    assert r.json()["error"]["details"] == {"sku_id": sku, "requested": 1, "available": 0}
    assert await _orders_of(quiet, shop.shop_id) == (0, 0, 0, 0)


async def _while_held(driver: Driver, statement: str, arg: Any, call: Awaitable[httpx.Response]) -> tuple[Any, str]:
    """`call`'s answer when another transaction, which ran `statement`, held its rows while `call` came to them: the
    other commits once `call` waits for it. Also the query that waited."""
    url = to_plain_url(driver.app.state.runtime.settings.database_url)
    conn, watcher = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        holder = conn.transaction()
        await holder.start()
        await conn.execute(statement, arg)
        request = asyncio.ensure_future(call)
        waiting = await _waiting_query(watcher, await conn.fetchval("SELECT pg_backend_pid()"), request)
        await holder.commit()
        return await request, waiting
    finally:
        await conn.close()
        await watcher.close()


async def _waiting_query(
    watcher: asyncpg.Connection, holder_pid: int, request: asyncio.Task[Any], timeout: float = 20.0
) -> str:
    """The query of the session blocked on a lock the holder holds, once there is one (asked outside the holder's
    transaction: pg_stat_activity is a snapshot taken once per transaction)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = await watcher.fetchrow(
            "SELECT query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder_pid
        )
        if row is not None:
            return str(row["query"])
        assert not request.done(), (await request).text
        assert asyncio.get_running_loop().time() < deadline, "the order never waited for the stock row"
        await asyncio.sleep(0.02)


async def test_the_answer_is_the_order_as_read_afterwards_with_its_deadline(quiet):
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=4)
    host_id = await quiet.cooperating_host(shop)
    me = uid("u")
    r = await quiet.client.post(
        "/v1/orders",
        json={**body(shop.shop_id, (sku, 3), host_id=host_id), "live_room_id": "room-1"},
        headers={**buyer(me), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 201, r.text
    placed = r.json()
    assert placed["live_room_id"] == "room-1" and placed["host_id"] == host_id and placed["pay_by"]
    read = await quiet.get(placed["order_id"], buyer(me))
    read.pop("trust"), placed.pop("trust", None)  # today's trust bands: shown by reads only, as after every command
    assert read == placed


async def test_the_order_screen_reads_one_snapshot_in_no_more_round_trips(quiet):
    """GET /v1/orders/{id} reads the order, its timeline, its after-sales cases and their steps in one REPEATABLE READ,
    READ ONLY transaction (a case's commit landing between two of those reads shows in all of them or none), opened
    by the one BEGIN: the order, the BEGIN, the timeline, the cases, their steps, the trust bands, the COMMIT."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=5)
    me = uid("u")
    order = await quiet.order(shop, sku, me)
    path = f"/v1/orders/{order['order_id']}"
    assert (await quiet.client.get(path, headers=buyer(me))).status_code == 200  # warm
    with Recorder(quiet) as rec:
        r = await quiet.client.get(path, headers=buyer(me))
    assert r.status_code == 200, r.text
    trips = rec.trips
    # SQLAlchemy's first statement is recorded as it is sent, before the driver's BEGIN completes.
    assert [t for t in trips if t in ("BEGIN", "COMMIT", "ROLLBACK")] == ["BEGIN", "COMMIT"], trips
    assert trips[-1] == "COMMIT" and len(trips) <= 7, "\n".join(t[:120] for t in trips)


async def _keys_of(driver: Driver, key: str) -> int:
    table = driver.app.state.runtime.tables.idempotency
    async with driver.app.state.runtime.session_factory() as s:
        return (await s.execute(select(func.count()).where(table.c.key == key))).scalar_one()


async def test_one_key_sent_many_times_at_once_makes_one_order_and_every_answer_is_its(quiet):
    """No transaction, no advisory lock: the key's row, inserted by the order's one write, is what makes it once. The
    requests that lose the race (their write waits at the key's unique index, then fails with nothing written) get
    the winner's answer, byte for byte."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=50)
    headers = {**buyer(uid("u")), "Idempotency-Key": uid("k")}
    responses = await asyncio.gather(
        *(quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 2)), headers=headers) for _ in range(12))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1  # one answer, the same bytes for all
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in responses) == 1
    assert await _orders_of(quiet, shop.shop_id) == (1, 1, 1, 1)
    stock = (await quiet.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"]
    assert stock == 50 - 2
    assert await _keys_of(quiet, headers["Idempotency-Key"]) == 1


async def test_one_key_with_two_bodies_at_once_makes_one_order_and_the_other_is_told_the_key_was_reused(quiet):
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=50)
    headers = {**buyer(uid("u")), "Idempotency-Key": uid("k")}
    one, two = body(shop.shop_id, (sku, 1)), body(shop.shop_id, (sku, 3))
    responses = await asyncio.gather(
        *(quiet.client.post("/v1/orders", json=b, headers=headers) for _ in range(4) for b in (one, two))
    )
    created = [r for r in responses if r.status_code == 201]
    reused = [r for r in responses if r.status_code == 422]
    assert len(created) + len(reused) == len(responses), [r.text for r in responses]
    assert len({r.json()["order_id"] for r in created}) == 1
    assert {r.json()["error"]["code"] for r in reused} == {"IDEMPOTENCY_KEY_REUSED"}
    assert len(reused) == 4  # every request with the other body
    assert await _orders_of(quiet, shop.shop_id) == (1, 1, 1, 1)


async def test_an_order_without_a_key_records_no_answer_and_a_refused_keyed_one_records_its_refusal(quiet):
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=1)
    table = quiet.app.state.runtime.tables.idempotency
    async with quiet.app.state.runtime.session_factory() as s:
        before = (await s.execute(select(func.count()).select_from(table))).scalar_one()
    r = await quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 1)), headers=buyer(uid("u")))
    assert r.status_code == 201, r.text
    async with quiet.app.state.runtime.session_factory() as s:
        assert (await s.execute(select(func.count()).select_from(table))).scalar_one() == before
    # Refused (the stock is gone): nothing of it written but its answer, given again on a retry.
    headers = {**buyer(uid("u")), "Idempotency-Key": uid("k")}
    first = await quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 1)), headers=headers)
    again = await quiet.client.post("/v1/orders", json=body(shop.shop_id, (sku, 1)), headers=headers)
    assert first.status_code == again.status_code == 409, (first.text, again.text)
    assert first.json()["error"]["code"] == "OUT_OF_STOCK"
    assert again.content == first.content and again.headers.get("idempotent-replayed") == "true"
    assert await _orders_of(quiet, shop.shop_id) == (1, 1, 1, 1)


async def test_an_order_cancelled_while_it_is_being_paid_is_not_paid_and_nothing_of_the_payment_is_written(quiet):
    """The payment read the order CREATED; by the time its one statement runs, a transaction holding the order's row
    has cancelled it: the statement waits for the row, finds it no longer CREATED, and refuses itself whole (no
    ledger payment, no order.paid, no PAID entry). The answer is the refusal a payment of a cancelled order gets,
    recorded for its key."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=3)
    me = uid("u")
    order = await quiet.order(shop, sku, me)
    order_id = order["order_id"]
    headers = {**buyer(me), "Idempotency-Key": uid("k")}
    paid = {"amount_fen": order["total_fen"], "method": "SANDBOX"}
    r, waiting = await _while_held(
        quiet,
        "UPDATE sales_order SET status = 'CANCELLED' WHERE order_id = $1",
        order_id,
        quiet.client.post(f"/v1/orders/{order_id}/pay", json=paid, headers=headers),
    )
    assert "UPDATE sales_order" in waiting, waiting
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "ILLEGAL_TRANSITION"
    assert r.json()["error"]["details"] == {"current_status": "CANCELLED", "requested_status": "PAID"}
    again = await quiet.client.post(f"/v1/orders/{order_id}/pay", json=paid, headers=headers)
    assert again.content == r.content and again.headers.get("idempotent-replayed") == "true"
    runtime = quiet.app.state.runtime
    async with runtime.session_factory() as s:
        outbox = runtime.tables.outbox
        events = (await s.execute(select(outbox.c.type).where(outbox.c.key == order_id))).scalars().all()
        statuses = (
            (await s.execute(select(OrderTimelineEntry.to_status).where(OrderTimelineEntry.order_id == order_id)))
            .scalars()
            .all()
        )
        row = (await s.execute(select(SalesOrder).where(SalesOrder.order_id == order_id))).scalar_one()
    assert "xinren.order.paid" not in events, events
    assert list(statuses) == ["CREATED"]
    assert row.status == "CANCELLED" and row.paid_fen == 0 and row.payment_ref is None
    assert await quiet.balance(f"escrow:{order_id}") == 0
    await quiet.ledger_ok()
    # The buyer's money captured for it went back: the order never held it.
    assert quiet.app.state.payment_provider.voided.get(_sandbox_reference(order_id)) == order["total_fen"]


def _sandbox_reference(order_id: str) -> str:
    """The sandbox's capture reference of an order's payment (one capture per order)."""
    return "sbx_" + hashlib.sha256(f"pay:{order_id}".encode()).hexdigest()[:24]


async def test_a_capture_whose_void_fails_still_gets_the_refusal_and_is_logged_to_reconcile(quiet, monkeypatch, caplog):
    """The provider failing to give a capture back does not turn the buyer's refusal into a 500: the refusal is the
    answer, and an ERROR names the capture for the finance team to reconcile."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=3)
    me = uid("u")
    order = await quiet.order(shop, sku, me)
    order_id = order["order_id"]

    async def void_fails(capture, *, idempotency_key):
        raise ConnectionError("the provider is unreachable")

    monkeypatch.setattr(quiet.app.state.payment_provider, "void", void_fails)
    paid = {"amount_fen": order["total_fen"], "method": "SANDBOX"}
    r, _ = await _while_held(
        quiet,
        "UPDATE sales_order SET status = 'CANCELLED' WHERE order_id = $1",
        order_id,
        quiet.client.post(f"/v1/orders/{order_id}/pay", json=paid, headers={**buyer(me), "Idempotency-Key": uid("k")}),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "ILLEGAL_TRANSITION", r.text
    failed = [rec for rec in caplog.records if rec.levelname == "ERROR" and "void failed" in rec.getMessage()]
    assert len(failed) == 1 and _sandbox_reference(order_id) in failed[0].getMessage()


async def test_a_payment_refused_because_another_paid_the_order_meanwhile_does_not_give_its_capture_back(quiet):
    """Two payments of one order (two keys) make one capture, the provider's per order: the one refused because
    the other paid the order meanwhile leaves that capture alone, since the order holds it."""
    shop = await quiet.shop()
    sku = await quiet.product(shop, stock=3)
    me = uid("u")
    order = await quiet.order(shop, sku, me)
    order_id, reference = order["order_id"], _sandbox_reference(order["order_id"])
    paid = {"amount_fen": order["total_fen"], "method": "SANDBOX"}
    r, waiting = await _while_held(
        quiet,
        f"UPDATE sales_order SET status = 'PAID', payment_ref = '{reference}' WHERE order_id = $1",
        order_id,
        quiet.client.post(f"/v1/orders/{order_id}/pay", json=paid, headers={**buyer(me), "Idempotency-Key": uid("k")}),
    )
    assert "UPDATE sales_order" in waiting, waiting
    assert r.status_code == 409, r.text
    assert r.json()["error"]["details"] == {"current_status": "PAID", "requested_status": "PAID"}
    assert reference not in quiet.app.state.payment_provider.voided


async def test_the_stock_trigger_is_planned_for_the_catalog_as_it_is(quiet):
    """PL/pgSQL keeps a statement's plan once a connection has run it a few times: the UPDATE taking an order's stock
    is planned at every run instead (migration 0013), so a plan made while the catalog was small (a sequential scan of
    every product, under the hot row's lock) is never kept as it grows."""
    url = to_plain_url(quiet.app.state.runtime.settings.database_url)
    conn = await asyncpg.connect(url)
    try:
        config = await conn.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'xinren_order_takes_stock'")
    finally:
        await conn.close()
    assert "plan_cache_mode=force_custom_plan" in (config or []), config


async def test_the_order_service_opens_its_whole_pool_before_it_is_ready(make_database, kafka_bootstrap):
    """A flash sale's burst right after a start meets connections already open: a pool still growing under it queued
    the first second's orders behind each new one (at 350/s: p50 142-758 ms against 39-278 ms opened whole)."""
    app = create_app(order_settings(await make_database("order"), kafka_bootstrap, db_pool_size=12))
    async with serve(app):
        pool = app.state.runtime.engine.pool
        assert pool.checkedin() + pool.checkedout() == 12  # the shared default opens 10
