"""The order view this service keeps from the order and QC events: each event's write is one statement where it can
be, since every paid order sends it two (order.paid, then qc.case_opened for certified goods)."""

from __future__ import annotations

import uuid

import pytest_asyncio
from sqlalchemy import select

from tests.refund.conftest import _service
from tests.refund.support import Service
from xinren_refund.handlers import projection
from xinren_refund.models import OrderView
from xinren_shared import sql
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderItem, OrderPaid
from xinren_shared.contracts.qc import QcCaseOpened
from xinren_shared.events import Envelope, Event
from xinren_shared.testing.http import serve
from xinren_shared.testing.roundtrips import RoundTrips


@pytest_asyncio.fixture(scope="module")
async def quiet(make_database, kafka_bootstrap):
    """An app of its own with no relay, consumer or timer worker, so that every statement its engine sends is the
    handler's."""
    app, settings = await _service(
        make_database, kafka_bootstrap, run_relay=False, run_consumers=False, run_timers=False
    )
    async with serve(app) as client:
        yield Service(client, app, settings)


def _ids() -> dict[str, str]:
    run = uuid.uuid4().hex[:10]
    return {"order_id": f"ord_{run}", "buyer_id": f"u_{run}", "shop_id": f"shop_{run}"}


def _paid(p: dict[str, str]) -> OrderPaid:
    item = OrderItem(sku_id="sku_jade", title="冰种翡翠手镯", category="jade", unit_price_fen=128000, quantity=1)
    return OrderPaid(
        order_id=p["order_id"],
        buyer_id=p["buyer_id"],
        shop_id=p["shop_id"],
        items=[item],
        paid_fen=128000,
        qc_required=True,
        category="jade",
    )


def _opened(p: dict[str, str], address: str) -> QcCaseOpened:
    return QcCaseOpened(
        order_id=p["order_id"],
        case_id=f"qc_{p['order_id']}",
        shop_id=p["shop_id"],
        buyer_id=p["buyer_id"],
        warehouse_id="wh_sihui",
        warehouse_address=address,
        inbound_deadline="2025-05-25T04:00:00Z",
    )


async def _handle(svc: Service, handler, event: Event, source: str) -> list[str]:
    """Runs one handler in its own transaction; the round trips it made between BEGIN and COMMIT."""
    runtime = svc.app.state.runtime
    ctx = EventContext(Envelope.of(event, source), runtime)
    with RoundTrips(runtime.engine.sync_engine) as rec:
        async with runtime.transaction() as session:
            mine, since = (
                id(await sql.driver(session)),
                rec.mark(),
            )  # only this transaction's, whatever else uses the engine
            await handler(session, event, ctx)
    *trips, end = rec.transaction(mine, since)
    assert end == "COMMIT", [*trips, end]
    return trips


async def _view(svc: Service, order_id: str) -> OrderView:
    async with svc.app.state.runtime.transaction() as session:
        return (await session.execute(select(OrderView).where(OrderView.order_id == order_id))).scalar_one()


async def test_the_case_opened_is_one_statement_whether_the_view_exists_or_not(quiet):
    early, known = _ids(), _ids()
    await _handle(quiet, projection.on_qc_case_opened, _opened(_ids(), "warm"), "/xinren/qc")  # prepared
    await _handle(quiet, projection.on_order_paid, _paid(_ids()), "/xinren/order")  # and its types known

    # Before the order's own events (another topic): the view starts with the parties and the address.
    (write,) = await _handle(quiet, projection.on_qc_case_opened, _opened(early, "四会市 8 号"), "/xinren/qc")
    assert write.startswith("INSERT INTO order_view") and "ON CONFLICT" in write, write
    view = await _view(quiet, early["order_id"])
    assert (view.buyer_id, view.status, view.qc_warehouse_address) == (early["buyer_id"], "CREATED", "四会市 8 号")

    # After order.paid: one statement still, and what the payment told stays.
    (write,) = await _handle(quiet, projection.on_order_paid, _paid(known), "/xinren/order")
    assert write.startswith("INSERT INTO order_view") and "ON CONFLICT" in write, write  # parties and payment at once
    (write,) = await _handle(quiet, projection.on_qc_case_opened, _opened(known, "平洲玉器街 1 号"), "/xinren/qc")
    view = await _view(quiet, known["order_id"])
    assert (view.status, view.paid_fen, view.qc_warehouse_address) == ("PAID", 128000, "平洲玉器街 1 号")
    assert view.items[0]["sku_id"] == "sku_jade" and view.qc_required


async def test_the_views_upsert_is_built_once_per_shape_and_an_event_only_binds_its_values(quiet):
    """Each caller of `note_on_view` has one shape of values and news: its statement is built the first time and
    reused (handling an event no longer builds and hashes an INSERT … ON CONFLICT anew), with each event's own
    values bound: two orders' views each get theirs, and the news of a later event overwrites only what it tells."""
    from xinren_refund import repository

    one, two = _ids(), _ids()
    await _handle(quiet, projection.on_qc_case_opened, _opened(one, "四会市 8 号"), "/xinren/qc")
    built = repository._noted.cache_info()
    await _handle(quiet, projection.on_qc_case_opened, _opened(two, "平洲玉器街 1 号"), "/xinren/qc")
    await _handle(quiet, projection.on_order_paid, _paid(two), "/xinren/order")
    await _handle(quiet, projection.on_order_paid, _paid(one), "/xinren/order")
    after = repository._noted.cache_info()
    assert after.misses == built.misses and after.hits >= built.hits + 1  # the case's shape reused
    first, second = await _view(quiet, one["order_id"]), await _view(quiet, two["order_id"])
    assert (first.buyer_id, first.qc_warehouse_address, first.paid_fen) == (one["buyer_id"], "四会市 8 号", 128000)
    assert (second.buyer_id, second.qc_warehouse_address, second.status) == (two["buyer_id"], "平洲玉器街 1 号", "PAID")


async def test_an_orders_first_two_events_fill_each_others_gaps_in_either_order(quiet):
    """order.created and order.paid each write the view in one statement: whichever comes first creates it, the
    other only fills what it lacks (the rights the order was placed under: order.created's copy wins); the payment
    moves it on to PAID, never back, and keeps the first time it was paid and the last return address given."""
    from datetime import UTC, datetime, timedelta

    from xinren_shared.contracts.orders import Address, OrderCreated
    from xinren_shared.contracts.vocabulary import TrustRight

    item = OrderItem(sku_id="sku_jade", title="冰种翡翠手镯", category="jade", unit_price_fen=128000, quantity=1)
    address = Address(
        name="王店长", phone="13800000000", province="广东", city="肇庆", district="四会", line1="玉器街 8 号"
    )
    first_paid = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def created(p: dict[str, str]) -> OrderCreated:
        rights = [TrustRight.SEVEN_DAY_RETURN, TrustRight.FAKE_ONE_PAY_TEN]
        return OrderCreated(**p, items=[item], total_fen=138000, qc_required=True, trust_rights=rights)

    def paid(p: dict[str, str], **kw) -> OrderPaid:
        base = dict(items=[item], paid_fen=138000, qc_required=False, category="jade", paid_at=first_paid)
        return OrderPaid(**p, **(base | kw))

    # Created, then paid (with a return address), then the payment again, later, with none: nothing moves back.
    one = _ids()
    await _handle(quiet, projection.on_order_created, created(one), "/xinren/order")
    await _handle(quiet, projection.on_order_paid, paid(one, return_address=address), "/xinren/order")
    later = first_paid + timedelta(hours=1)
    await _handle(
        quiet,
        projection.on_order_paid,
        paid(one, trust_rights=[TrustRight.FAST_REFUND], paid_at=later),
        "/xinren/order",
    )
    view = await _view(quiet, one["order_id"])
    assert (view.status, view.total_fen, view.paid_fen, view.paid_at) == ("PAID", 138000, 138000, first_paid)
    assert view.trust_rights == ["SEVEN_DAY_RETURN", "FAKE_ONE_PAY_TEN"] and view.qc_required
    assert view.return_address == address.model_dump(mode="json")

    # Paid first (the view's total is its lines'), then created: it fills the gaps (no rights, no QC flag) only.
    two = _ids()
    await _handle(quiet, projection.on_order_paid, paid(two), "/xinren/order")
    await _handle(quiet, projection.on_order_created, created(two), "/xinren/order")
    view = await _view(quiet, two["order_id"])
    assert (view.status, view.total_fen, view.paid_fen) == ("PAID", 128000, 138000)
    assert view.trust_rights == ["SEVEN_DAY_RETURN", "FAKE_ONE_PAY_TEN"] and view.qc_required

    # Known only from QC (parties, no lines), then shipped: a late order.paid fills the lines, keeps SHIPPED.
    three = _ids()
    await _handle(quiet, projection.on_qc_case_opened, _opened(three, "四会市 8 号"), "/xinren/qc")
    async with quiet.app.state.runtime.transaction() as session:
        (await session.get(OrderView, three["order_id"])).status = "SHIPPED"
    await _handle(quiet, projection.on_order_paid, paid(three), "/xinren/order")
    view = await _view(quiet, three["order_id"])
    assert (view.status, view.paid_fen, view.qc_warehouse_address) == ("SHIPPED", 138000, "四会市 8 号")
    assert [i["sku_id"] for i in view.items] == ["sku_jade"]
