"""A paid order's case opens in few statements: every paid order of certified goods comes here once."""

from __future__ import annotations

import pytest_asyncio
from sqlalchemy import select

from xinren_qc.app import create_app
from xinren_qc.handlers import inspection
from xinren_qc.handlers.cases import INBOUND_DEADLINE
from xinren_qc.models import infra
from xinren_shared import sql
from xinren_shared.consumer import EventContext
from xinren_shared.events import Envelope
from xinren_shared.testing.http import serve
from xinren_shared.testing.roundtrips import RoundTrips

from ..conftest import _start
from ..support import ORDER_SOURCE, Qc, category, paid, rid

STATEMENTS = 4  # the routing lock, the warehouses read, the case, its timeline entry + deadline + qc.case_opened


@pytest_asyncio.fixture(scope="module")
async def quiet(make_database, kafka_bootstrap, event_collector, publish):
    """An app of its own with no relay, consumer or timer worker: every statement its engine sends is the
    handler's."""
    settings = await _start(make_database, kafka_bootstrap, run_consumers=False, run_relay=False, run_timers=False)
    app = create_app(settings)
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)


async def test_a_paid_order_opens_its_case_in_four_statements(quiet):
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
    assert trips[0].startswith("SELECT pg_advisory_xact_lock_shared"), trips  # the routing lock, shared
    assert any(t.startswith("INSERT INTO qc_case ") for t in trips), trips
    opened = trips[-1]
    parts = ("INSERT INTO qc_case_event", "INSERT INTO timer", "INSERT INTO outbox_event")
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
