"""A QC event that moves the order from one status, telling only what it notes, is one statement: the order's
move, its timeline entry and its case's status (qc_reactions.QcReaction.in_one_statement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.order.conftest import uid
from xinren_order.handlers import qc_reactions
from xinren_shared import sql
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.qc import QcCaseOpened, QcEvent, QcItemReceived, QcPassed
from xinren_shared.events import Envelope
from xinren_shared.testing.roundtrips import RoundTrips

QC = "/xinren/quality-check"


def _opened(ids: dict[str, str], address: str = "四会玉器城质检中心") -> QcCaseOpened:
    deadline = datetime.now(UTC) + timedelta(days=5)
    return QcCaseOpened(**ids, warehouse_id="wh_sihui", warehouse_address=address, inbound_deadline=deadline)


async def _handle(api, *events: QcEvent) -> list[str]:
    """Handles `events` in one transaction, as the consumer handles a batch; the statements sent in it."""
    runtime = api.app.state.runtime
    with RoundTrips(runtime.engine.sync_engine) as rec:
        async with runtime.transaction() as session:
            mine, since = id(await sql.driver(session)), rec.mark()
            for event in events:
                await qc_reactions.on_qc_event(session, event, EventContext(Envelope.of(event, QC), runtime))
    *trips, end = rec.transaction(mine, since)
    assert end == "COMMIT", [*trips, end]
    return trips


async def test_a_case_opened_moves_the_order_in_one_statement_and_a_repeat_changes_nothing(api):
    shop = await api.shop()
    sku = await api.product(shop, category="jade", price_fen=6_000_000, stock=2)
    order = await api.paid_order(shop, sku, uid("u"))
    ids = {"order_id": order["order_id"], "case_id": uid("qc"), "buyer_id": order["buyer_id"], "shop_id": shop.shop_id}
    await _handle(api, _opened(ids | {"order_id": uid("ord")}))  # an unknown order: prepares the statement

    (write,) = await _handle(api, _opened(ids))
    assert write.startswith("WITH moved AS") and "UPDATE sales_order" in write
    assert "INSERT INTO order_timeline_entry" in write
    opened = await api.get(ids["order_id"])
    assert opened["status"] == "AWAITING_QC_INBOUND" and opened["warehouse_address"] == "四会玉器城质检中心"
    assert opened["qc"]["case_id"] == ids["case_id"] and opened["qc"]["status"] == "AWAITING_INBOUND"
    assert [(t["status"], t["actor"]) for t in opened["timeline"][-1:]] == [
        ("AWAITING_QC_INBOUND", f"qc:{ids['case_id']}")
    ]

    # The same fact again (another event id): the order is no longer PAID, nothing moves or is added.
    await _handle(api, _opened(ids, "elsewhere"))
    again = await api.get(ids["order_id"])
    assert again["timeline"] == opened["timeline"] and again["warehouse_address"] == "四会玉器城质检中心"


async def test_a_move_in_one_statement_sees_the_earlier_events_move_in_the_same_batch(api):
    """Received (two statuses it may start from: the order is loaded and moved by the session) then passed (one
    statement) in one transaction: the session's move is written before the statement that starts from it."""
    shop = await api.shop()
    sku = await api.product(shop, category="jade", price_fen=6_000_000, stock=2)
    order = await api.paid_order(shop, sku, uid("u"))
    ids = {"order_id": order["order_id"], "case_id": uid("qc"), "buyer_id": order["buyer_id"], "shop_id": shop.shop_id}
    await _handle(api, _opened(ids))

    await _handle(api, QcItemReceived(**ids), QcPassed(**ids, certificate_no="CERT-7"))
    passed = await api.get(ids["order_id"])
    assert passed["status"] == "QC_PASSED" and passed["certificate_no"] == "CERT-7"
    assert passed["qc"]["status"] == "PASSED"
    assert [t["status"] for t in passed["timeline"]][-3:] == ["AWAITING_QC_INBOUND", "IN_QC", "QC_PASSED"]
