"""Any sequence of pay, complete, refund, compensate, end of hold and payout keeps every ledger invariant (the ledger
check, settlement's included) and every statement agrees with the ledger."""

from __future__ import annotations

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.order.conftest import Driver, admin, buyer, order_settings, uid
from tests.order.integration.test_settlement import make_shop
from xinren_order import settlement_checks
from xinren_order.app import create_app
from xinren_order.handlers import money, payouts
from xinren_order.handlers.settlement import release_hold
from xinren_order.repository import load_order
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.aftersales import CompensationGranted, RefundRequested
from xinren_shared.events import Envelope
from xinren_shared.ids import utcnow
from xinren_shared.testing.http import serve

STEP = st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 3)),
    st.tuples(st.just("complete"), st.integers(0, 5)),
    st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 100)),
    st.tuples(
        st.just("compensate"),
        st.integers(0, 5),
        st.integers(1, 5_000),
        st.sampled_from(["SHOP_DEPOSIT", "PLATFORM", "PLATFORM_GUARANTEE"]),
    ),
    st.tuples(st.just("hold_ends"), st.integers(0, 5)),
    st.tuples(st.just("payout")),
)


@pytest_asyncio.fixture(scope="module")
async def world(make_database, kafka_bootstrap):
    settings = order_settings(
        await make_database("order"), kafka_bootstrap, settlement_hold_seconds=3600, settlement_hold_short_seconds=3600,
        payout_period_seconds=0.5, run_consumers=False,
        run_timers=False,  # every step is the test's own: no payout run of the schedule racing it
    )  # fmt: skip
    app = create_app(settings)
    async with serve(app) as client:
        d = Driver(client, app)
        shop = await make_shop(d, uid("shop"), deposit_fen=3_000)
        host_id = await d.cooperating_host(shop, commission_bps=800)
        yield d, shop, host_id, await d.product(shop, price_fen=7_777, stock=10_000)


async def _as_event(d: Driver, handler, event) -> None:
    runtime = d.app.state.runtime
    async with runtime.transaction() as s:
        await handler(s, event, EventContext(envelope=Envelope.of(event, "/xinren/refund"), runtime=runtime))


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(STEP, min_size=3, max_size=9))
async def test_random_sequences_keep_every_ledger_invariant(world, steps):
    d, shop, host_id, sku = world
    runtime = d.app.state.runtime
    orders: list[dict] = []
    for step in steps:
        kind = step[0]
        pick = orders[step[1] % len(orders)] if orders and kind not in ("pay", "payout") else None
        if kind == "pay":
            orders.append(await d.paid_order(shop, sku, uid("u"), quantity=step[1], host_id=host_id))
        elif kind == "complete" and pick is not None:
            current = await d.get(pick["order_id"])
            if current["status"] == "PAID":
                await d.ship_deliver(pick, shop)
                r = await d.client.post(
                    f"/v1/orders/{pick['order_id']}/confirm-receipt", headers=buyer(pick["buyer_id"])
                )
                assert r.status_code == 200, r.text
        elif kind == "refund" and pick is not None:
            current = await d.get(pick["order_id"])
            amount = max(1, current["refundable_fen"] * step[2] // 100)
            await _as_event(d, money.on_refund_requested, RefundRequested(
                order_id=pick["order_id"], case_id=uid("as"), amount_fen=amount, buyer_id=pick["buyer_id"],
                shop_id=shop.shop_id, refund_id=uid("rf"),
            ))  # fmt: skip
        elif kind == "compensate" and pick is not None:
            await _as_event(d, money.on_compensation_granted, CompensationGranted(
                order_id=pick["order_id"], compensation_id=uid("cp"), kind="LATE_SHIPMENT", amount_fen=step[2],
                payer=step[3], buyer_id=pick["buyer_id"], shop_id=shop.shop_id,
            ))  # fmt: skip
        elif kind == "hold_ends" and pick is not None:
            async with runtime.transaction() as s:
                order = await load_order(s, pick["order_id"], lock=True)
                assert order is not None
                await release_hold(s, order)
        elif kind == "payout":
            async with runtime.transaction() as s:
                await payouts.run_payouts(s, runtime, utcnow())
    await d.ledger_ok()
    async with runtime.transaction() as s:
        result = await settlement_checks.reconcile(s)
    assert result["difference_fen"] == 0, result
    r = await d.client.get(f"/v1/shops/{shop.shop_id}/balances", headers=admin())
    b = r.json()
    assert min(b["pending_fen"], b["available_fen"], b["in_payout_fen"], b["paid_out_fen"]) >= 0
