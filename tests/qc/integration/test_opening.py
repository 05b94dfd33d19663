"""A paid order's case opens in few statements: every paid order of certified goods comes here once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import select, text

from xinren_qc.app import create_app
from xinren_qc.handlers import inspection, routing
from xinren_qc.handlers.cases import INBOUND_DEADLINE
from xinren_qc.models import Warehouse, infra
from xinren_shared import sql
from xinren_shared.consumer import EventContext
from xinren_shared.events import Envelope
from xinren_shared.testing.http import serve
from xinren_shared.testing.roundtrips import RoundTrips

from ..conftest import _start
from ..support import ORDER_SOURCE, Qc, category, eventually, paid, rid

STATEMENTS = 2  # what routing needs (the order's case? the warehouses), then the case + entry + deadline + event


@pytest_asyncio.fixture(scope="module")
async def quiet(make_database, kafka_bootstrap, event_collector, publish):
    """An app of its own with no relay, consumer or timer worker: every statement its engine sends is the
    handler's."""
    settings = await _start(make_database, kafka_bootstrap, run_consumers=False, run_relay=False, run_timers=False)
    app = create_app(settings)
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)


async def test_a_paid_order_opens_its_case_in_two_statements(quiet):
    cat = category()
    warehouse = await quiet.warehouse(cat)
    await quiet.deliver(paid(rid("ord"), cat, buyer_id=rid("u"), shop_id=rid("shop")))  # warm: statements prepared
    order_id = rid("ord")
    event = paid(order_id, cat, buyer_id=rid("u"), shop_id=rid("shop"))
    with RoundTrips(quiet.runtime.engine.sync_engine) as rec:
        async with quiet.runtime.transaction() as session:
            mine, since = id(await sql.driver(session)), rec.mark()  # the app's background tasks use the engine too
            await inspection.on_order_paid(
                session, event, EventContext(Envelope.of(event, ORDER_SOURCE), quiet.runtime)
            )
    *trips, end = rec.transaction(mine, since)
    assert end == "COMMIT", [*trips, end]
    assert len(trips) <= STATEMENTS, "\n".join(t[:120] for t in trips)
    assert not any("pg_advisory" in t for t in trips), trips  # a warehouse found needs no routing lock
    assert "FROM warehouse" not in trips[-1] and "warehouse" in trips[0], trips
    opened = trips[-1]
    parts = ("INSERT INTO qc_case ", "INSERT INTO qc_case_event", "INSERT INTO timer", "INSERT INTO outbox_event")
    assert all(part in opened for part in parts), opened
    assert not any("pg_notify" in t for t in trips), trips  # the relay is woken after the commit, from outside it

    # What that statement wrote: the routed entry, the seller's inbound deadline, one qc.case_opened.
    case = await quiet.case_of(order_id)
    assert case["status"] == "AWAITING_INBOUND" and case["warehouse_id"] == warehouse["warehouse_id"]
    r = await quiet.client.get(f"/v1/qc/cases/{case['case_id']}", headers=quiet.admin())
    assert [(e["status"], e["actor"], e["reason"]) for e in r.json()["timeline"]] == [
        ("AWAITING_INBOUND", "order-service", f"routed to warehouse {warehouse['warehouse_id']}")
    ]
    t = infra.timer
    async with quiet.runtime.transaction() as session:
        timer = (await session.execute(select(t).where(t.c.kind == INBOUND_DEADLINE, t.c.key == case["case_id"]))).one()
    assert timer.due_at.isoformat().replace("+00:00", "Z") == case["inbound_deadline"].replace("+00:00", "Z")
    assert timer.payload == {"order_id": order_id}
    assert await quiet.outbox_count("xinren.qc.case_opened", order_id) == 1


async def test_the_same_order_paid_twice_at_once_opens_one_case(quiet):
    """Two deliveries of one order's payment (two event ids) in two transactions at once: both find no case, the
    second waits at the case's unique index and fails with nothing written, and its retry finds the first's case."""
    cat = category()
    await quiet.warehouse(cat)
    order_id, buyer_id, shop_id = rid("ord"), rid("u"), rid("shop")
    events = [paid(order_id, cat, buyer_id=buyer_id, shop_id=shop_id) for _ in range(2)]

    async def handle(event, session):
        await inspection.on_order_paid(session, event, EventContext(Envelope.of(event, ORDER_SOURCE), quiet.runtime))

    async with quiet.runtime.transaction() as first:
        await handle(events[0], first)
        async with quiet.runtime.transaction() as probe:
            waiting_before = await _waiting_for_a_lock(probe)
        second = asyncio.create_task(_in_a_transaction(quiet, handle, events[1]))
        await eventually(lambda: _blocked(quiet, waiting_before))
    with pytest.raises(asyncpg.UniqueViolationError, match="uq_qc_case_order_id"):
        await second
    await quiet.deliver(events[1])  # the consumer's retry of the record
    case = await quiet.case_of(order_id)
    assert case is not None and case["status"] == "AWAITING_INBOUND"
    assert await quiet.outbox_count("xinren.qc.case_opened", order_id) == 1


async def test_finding_no_warehouse_asks_again_under_the_routing_lock(quiet):
    """A warehouse being created for the category (its creation holds the routing lock exclusively and routes the
    cases waiting for it) is not seen by the first read; the case waits for the lock and is routed to it."""
    cat = category()
    order_id = rid("ord")
    event = paid(order_id, cat, buyer_id=rid("u"), shop_id=rid("shop"))
    async with quiet.runtime.transaction() as creating:
        await routing.routing_lock(creating, exclusive=True)
        async with quiet.runtime.transaction() as probe:
            waiting_before = await _waiting_for_a_lock(probe)
        opening = asyncio.create_task(quiet.deliver(event))
        await eventually(lambda: _blocked(quiet, waiting_before))
        warehouse_id = rid("wh")
        creating.add(Warehouse(warehouse_id=warehouse_id, name="new", address="1 Road", categories=[cat]))
    await opening
    case = await quiet.case_of(order_id)
    assert case["status"] == "AWAITING_INBOUND" and case["warehouse_id"] == warehouse_id
    assert await quiet.outbox_count("xinren.qc.case_opened", order_id) == 1


async def _in_a_transaction(quiet, handle, event):
    async with quiet.runtime.transaction() as session:
        await handle(event, session)


async def _waiting_for_a_lock(session) -> int:
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    return (await session.execute(text(waiting))).scalar_one()


async def _blocked(quiet, before: int) -> bool:
    async with quiet.runtime.transaction() as probe:
        return await _waiting_for_a_lock(probe) > before
