"""Settlement: shares held until the after-sales window closes, refunds during the hold, payouts with statements (JSON
and CSV), failed and retried payouts, debt repaid before a payout, the views, and the ledger and reconciliation."""

from __future__ import annotations

import csv
import io

import pytest_asyncio
from sqlalchemy import text

from tests.order.conftest import Driver, Shop, admin, buyer, eventually, host, order_settings, partner, seller, uid
from xinren_order import settlement_checks
from xinren_order.app import create_app
from xinren_shared.contracts.aftersales import AfterSaleRequested, CompensationGranted, RefundRequested
from xinren_shared.testing.http import serve

AS = "/xinren/refund"


@pytest_asyncio.fixture(scope="module")
async def held(make_database, kafka_bootstrap, event_collector) -> Driver:
    """Shares held for an hour (tests end a hold by making its timer due), payouts retried at once."""
    settings = order_settings(
        await make_database("order"),
        kafka_bootstrap,
        settlement_hold_seconds=3600,
        settlement_hold_short_seconds=3600,
        settlement_recheck_seconds=3600,
        payout_retry_seconds=0.2,
        payout_minimum_fen=100,
    )
    app = create_app(settings)
    async with serve(app) as client:
        yield Driver(client, app)


async def end_hold(d: Driver, order_id: str) -> None:
    """The after-sales window closes now: the hold's timer becomes due (and the worker fires it)."""
    runtime = d.app.state.runtime
    async with runtime.transaction() as s:
        moved = await s.execute(
            text("UPDATE timer SET due_at = now() WHERE kind = 'settlement.hold_ends' AND key = :k "
                 "AND fired_at IS NULL AND cancelled_at IS NULL"), {"k": order_id},
        )  # fmt: skip
        assert moved.rowcount == 1


async def hold_fired(d: Driver, order_id: str) -> bool:
    async with d.app.state.runtime.transaction() as s:
        return bool(
            (
                await s.execute(
                    text(
                        "SELECT count(*) FROM timer WHERE kind = 'settlement.hold_ends' AND key = :k "
                        "AND fired_at IS NOT NULL"
                    ),
                    {"k": order_id},
                )  # fmt: skip
            ).scalar()
        )


async def make_shop(d: Driver, shop_id: str, *, deposit_fen: int = 0):
    r = await d.client.post(
        "/v1/shops",
        json={"shop_id": shop_id, "name": shop_id, "trust_rights": ["SEVEN_DAY_RETURN"], "deposit_fen": deposit_fen},
        headers=admin(),
    )
    assert r.status_code == 201, r.text
    return Shop(shop_id, seller(shop_id))


async def completed(d: Driver, shop, sku: str, *, host_id: str | None = None, quantity: int = 1) -> dict:
    order = await d.paid_order(shop, sku, uid("u"), host_id=host_id, quantity=quantity)
    await d.ship_deliver(order, shop)
    r = await d.client.post(f"/v1/orders/{order['order_id']}/confirm-receipt", headers=buyer(order["buyer_id"]))
    assert r.status_code == 200, r.text
    return r.json()


async def refund(publish, event_collector, order: dict, amount: int) -> None:
    req = RefundRequested(
        order_id=order["order_id"], case_id=uid("as"), amount_fen=amount, buyer_id=order["buyer_id"],
        shop_id=order["shop_id"], refund_id=uid("rf"),
    )  # fmt: skip
    await publish(req, source=AS)
    await event_collector.wait_for(lambda e: e.key == order["order_id"] and e.type == "xinren.order.refunded")


async def balances(d: Driver, shop) -> dict:
    r = await d.client.get(f"/v1/shops/{shop.shop_id}/balances", headers=shop.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def pending_and_available(d: Driver, host_id: str) -> tuple[int, int]:
    r = await d.client.get(f"/v1/hosts/{host_id}/earnings", headers=host(host_id))
    assert r.status_code == 200, r.text
    totals = r.json()["totals"]
    return totals["pending_fen"], totals["available_fen"]


async def run(d: Driver) -> list[dict]:
    r = await d.client.post("/v1/payouts/run", headers=admin())
    assert r.status_code == 200, r.text
    return r.json()["payouts"]


async def reconciled(d: Driver) -> None:
    async with d.app.state.runtime.transaction() as s:
        result = await settlement_checks.reconcile(s)
    assert result["difference_fen"] == 0, result
    assert settlement_checks.RECONCILIATION_DIFFERENCE._value.get() == 0


async def test_held_refunded_in_part_released_then_paid_once_with_a_statement(held, publish, event_collector):
    d = held
    shop = await make_shop(d, uid("shop"))
    host_id = await d.cooperating_host(shop, commission_bps=1_000)
    sku = await d.product(shop, price_fen=10_000)
    order = await completed(d, shop, sku, host_id=host_id, quantity=2)
    oid = order["order_id"]
    # Held: nothing available yet; the shares wait in the pending accounts.
    assert await balances(d, shop) == {
        "shop_id": shop.shop_id, "pending_fen": 17_000, "available_fen": 0, "in_payout_fen": 0, "paid_out_fen": 0,
        "guarantee_debt_fen": 0,
    }  # fmt: skip
    assert await pending_and_available(d, host_id) == (2_000, 0)
    # Refunded in part during the hold: the commission on it back, the rest from the pending shares.
    await refund(publish, event_collector, order, 5_000)
    assert (await balances(d, shop))["pending_fen"] == 17_000 - 4_250
    assert await pending_and_available(d, host_id) == (1_500, 0)
    # Nothing is available to pay during the hold.
    assert not [p for p in await run(d) if p["party_id"] in (shop.shop_id, host_id)]
    await end_hold(d, oid)
    await eventually(lambda: hold_fired(d, oid), what="the hold's end")
    b = await balances(d, shop)
    assert (b["pending_fen"], b["available_fen"]) == (0, 12_750)
    await d.ledger_ok()

    payouts = {p["party_id"]: p for p in await run(d)}
    shop_payout, host_payout = payouts[shop.shop_id], payouts[host_id]
    assert shop_payout["amount_fen"] == 12_750 and shop_payout["status"] == "PAID"
    assert host_payout["amount_fen"] == 1_500 and host_payout["status"] == "PAID"
    # A second run in the period pays nobody twice.
    assert not [p for p in await run(d) if p["party_id"] in (shop.shop_id, host_id)]
    b = await balances(d, shop)
    assert (b["available_fen"], b["paid_out_fen"]) == (0, 12_750)

    r = await d.client.get(f"/v1/shops/{shop.shop_id}/statements", headers=shop.headers)
    [summary] = r.json()["items"]
    assert summary["payout_fen"] == 12_750 and summary["payout_status"] == "PAID"
    url = f"/v1/shops/{shop.shop_id}/statements/{summary['statement_id']}"
    statement = (await d.client.get(url, headers=shop.headers)).json()
    [line] = statement["lines"]
    assert (line["kind"], line["order_id"], line["sku_id"]) == ("ORDER_LINE", oid, sku)
    assert (line["gross_fen"], line["platform_commission_fen"], line["host_commission_fen"]) == (20_000, 750, 1_500)
    assert (line["refunds_fen"], line["payout_fen"]) == (5_000, 12_750)
    assert statement["totals"]["payout_fen"] == sum(x["payout_fen"] for x in statement["lines"]) == 12_750
    # The CSV carries the same figures.
    r = await d.client.get(url, headers={**shop.headers, "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(x["payout_fen"]) for x in rows] == [12_750, 12_750]  # the line and the TOTAL row
    assert {k: int(v) for k, v in rows[0].items() if k.endswith("_fen")} == {
        k: v for k, v in line.items() if k.endswith("_fen")
    }
    # Another seller sees none of it.
    other = seller(uid("shop"))
    assert (await d.client.get(url, headers=other)).status_code == 403

    earnings = (await d.client.get(f"/v1/hosts/{host_id}/earnings", headers=host(host_id))).json()
    assert earnings["totals"] == {"pending_fen": 0, "available_fen": 0, "in_payout_fen": 0, "paid_out_fen": 1_500}
    assert [(o["order_id"], o["paid_out_fen"]) for o in earnings["orders"]] == [(oid, 1_500)]
    assert (await d.client.get(f"/v1/hosts/{host_id}/earnings", headers=host("other"))).status_code == 403
    await d.ledger_ok()
    await reconciled(d)


async def test_an_open_case_keeps_the_hold(held, publish, event_collector):
    d = held
    shop = await make_shop(d, uid("shop"))
    order = await completed(d, shop, await d.product(shop, price_fen=5_000))
    oid = order["order_id"]
    case = AfterSaleRequested(
        case_id=uid("as"), order_id=oid, buyer_id=order["buyer_id"], shop_id=shop.shop_id, type="REFUND_ONLY",
        reason="QUALITY_ISSUE", amount_fen=1_000, status="REQUESTED",
    )  # fmt: skip
    [env] = await publish(case, source=AS)
    await eventually(lambda: d.handled(env.id), what="the case")
    await end_hold(d, oid)
    await eventually(lambda: hold_fired(d, oid), what="the hold's timer")
    b = await balances(d, shop)
    assert (b["pending_fen"], b["available_fen"]) == (4_750, 0)
    await d.ledger_ok()


async def test_a_declined_payout_returns_the_money_and_the_next_statement_lists_it(held):
    d = held
    shop = await make_shop(d, f"{uid('shop')}_decline")
    order = await completed(d, shop, await d.product(shop, price_fen=10_000))
    await end_hold(d, order["order_id"])
    await eventually(lambda: hold_fired(d, order["order_id"]), what="the hold's end")
    [payout] = [p for p in await run(d) if p["party_id"] == shop.shop_id]
    assert payout["status"] == "FAILED" and payout["amount_fen"] == 9_500 and "declined" in payout["last_error"]
    b = await balances(d, shop)
    assert (b["available_fen"], b["paid_out_fen"], b["in_payout_fen"]) == (9_500, 0, 0)
    await d.ledger_ok()
    await reconciled(d)


async def test_a_payout_that_fails_to_send_is_retried(held):
    d = held
    shop = await make_shop(d, uid("shop"))
    host_id = await d.register_host(f"{uid('host')}_flaky")
    await d.cooperate(shop, host_id, commission_bps=500)
    order = await completed(d, shop, await d.product(shop, price_fen=10_000), host_id=host_id)
    await end_hold(d, order["order_id"])
    await eventually(lambda: hold_fired(d, order["order_id"]), what="the hold's end")
    [payout] = [p for p in await run(d) if p["party_id"] == host_id]
    assert payout["status"] == "SENDING" and payout["attempts"] == 1

    async def paid() -> bool:
        earnings = (await d.client.get(f"/v1/hosts/{host_id}/earnings", headers=admin())).json()
        return earnings["totals"]["paid_out_fen"] == 500

    await eventually(paid, what="the retried payout")
    await d.ledger_ok()


async def test_guarantee_debt_is_repaid_before_a_payout(held, publish, event_collector):
    d = held
    shop = await make_shop(d, uid("shop"))
    order = await completed(d, shop, await d.product(shop, price_fen=10_000))
    await end_hold(d, order["order_id"])
    await eventually(lambda: hold_fired(d, order["order_id"]), what="the hold's end")
    # A compensation the empty deposit cannot pay: the guarantee fronts it and the shop owes it.
    grant = CompensationGranted(
        order_id=order["order_id"], compensation_id=uid("cp"), kind="LATE_SHIPMENT", amount_fen=3_000,
        payer="SHOP_DEPOSIT", buyer_id=order["buyer_id"], shop_id=shop.shop_id,
    )  # fmt: skip
    await publish(grant, source=AS)
    await event_collector.wait_for(lambda e: e.key == order["order_id"] and e.type == "xinren.order.compensation_paid")
    assert (await balances(d, shop))["guarantee_debt_fen"] == 3_000
    [payout] = [p for p in await run(d) if p["party_id"] == shop.shop_id]
    assert payout["amount_fen"] == 6_500
    b = await balances(d, shop)
    assert (b["guarantee_debt_fen"], b["available_fen"], b["paid_out_fen"]) == (0, 0, 6_500)
    statement = (
        await d.client.get(f"/v1/shops/{shop.shop_id}/statements/{payout['statement_id']}", headers=admin())
    ).json()
    assert [(x["kind"], x["payout_fen"]) for x in statement["lines"]] == [
        ("ORDER_LINE", 9_500), ("DEBT_REPAYMENT", -3_000)
    ]  # fmt: skip
    await d.ledger_ok()
    await reconciled(d)


async def test_the_platform_sees_its_income_and_the_guarantee_fund(held):
    r = await held.client.get("/v1/admin/finance", headers=admin())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["commission_income_fen"] >= 0 and set(body["guarantee_fund"]) == {
        "balance_fen", "owed_by_shops_fen", "position_fen"
    }  # fmt: skip
    assert (await held.client.get("/v1/admin/finance", headers=seller("s"))).status_code == 403
    assert (await held.client.post("/v1/payouts/run", headers=partner())).status_code == 403
