"""Refunds and compensation requested by the refund service (published here to xinren.aftersales.v1)."""

from tests.order.conftest import admin, buyer, eventually, uid
from xinren_shared.contracts.aftersales import CompensationGranted, RefundRequested
from xinren_shared.events import Envelope

AS = "/xinren/refund"


def refund(order: dict, amount: int, *, case_id: str | None = None, refund_id: str | None = None) -> RefundRequested:
    case_id = case_id or uid("as")
    return RefundRequested(
        order_id=order["order_id"], case_id=case_id, amount_fen=amount,
        buyer_id=order["buyer_id"], shop_id=order["shop_id"], refund_id=refund_id or f"rf_{case_id}",
    )  # fmt: skip


def answers(order_id: str, type_: str):
    return lambda e: e.key == order_id and e.type == f"xinren.order.{type_}"


async def ledger_of(api, order_id: str) -> list[dict]:
    return (await api.client.get(f"/v1/orders/{order_id}/ledger", headers=admin())).json()["items"]


async def test_a_repair_asking_again_gets_the_same_answer_and_moves_nothing(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=8_000)
    order = await api.paid_order(shop, sku, uid("u"), quantity=2)
    oid = order["order_id"]
    req = refund(order, 6_000)
    await publish(req, source=AS)
    [first] = await event_collector.wait_for(answers(oid, "refunded"))
    # The refund service lost the answer and its consistency repair asks again: the same answer, no money moved.
    await publish(req.model_copy(update={"reask": True}), source=AS)
    again = (await event_collector.wait_for(answers(oid, "refunded"), count=2))[1]
    assert again.id != first.id and again.data == first.data
    grant = CompensationGranted(
        order_id=oid, compensation_id=uid("cp"), kind="LATE_SHIPMENT", amount_fen=500, payer="PLATFORM",
        buyer_id=order["buyer_id"], shop_id=order["shop_id"],
    )  # fmt: skip
    await publish(grant, source=AS)
    await event_collector.wait_for(answers(oid, "compensation_paid"))
    await publish(grant.model_copy(update={"reask": True}), source=AS)
    paid = await event_collector.wait_for(answers(oid, "compensation_paid"), count=2)
    assert paid[0].data == paid[1].data
    assert [t["kind"] for t in await ledger_of(api, oid)] == ["PAYMENT", "REFUND", "COMPENSATION"]
    await api.ledger_ok()


async def test_a_refund_delivered_twice_moves_the_money_once(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=8_000)
    order = await api.paid_order(shop, sku, uid("u"), quantity=2)
    oid = order["order_id"]
    req = refund(order, 6_000)
    env = Envelope.of(req, AS)
    await publish(env, env, source=AS)  # the very same event redelivered
    await publish(req.model_copy(), source=AS)  # the same refund_id in a new event
    [answer] = await event_collector.wait_for(answers(oid, "refunded"))
    assert (
        answer.data.items()
        >= {
            "amount_fen": 6_000,
            "refunded_total_fen": 6_000,
            "source": "ESCROW",
            "refund_id": req.refund_id,
            "case_id": req.case_id,
        }.items()
    )
    await eventually(lambda: api.handled(env.id))

    # A later refund on the same partition proves the duplicates before it were all consumed.
    second = refund(order, 10_000)
    await publish(second, source=AS)
    await event_collector.wait_for(answers(oid, "refunded"), count=2)
    assert len(event_collector.envelopes(answers(oid, "refunded"))) == 2
    final = await api.wait_status(oid, "REFUNDED")
    assert final["refunded_fen"] == final["paid_fen"] == 16_000 and final["refundable_fen"] == 0
    assert await api.balance(f"escrow:{oid}") == 0
    kinds = [t["kind"] for t in await ledger_of(api, oid)]
    assert kinds == ["PAYMENT", "REFUND", "REFUND"]
    # Goods never left the seller: a full refund before shipment puts the stock back.
    assert (await api.client.get(f"/v1/products/{sku}", headers=buyer("x"))).json()["stock_available"] == 100
    await api.ledger_ok()


async def test_a_refund_above_what_remains_refundable_moves_nothing(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=5_000)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    await publish(refund(order, 3_000), source=AS)
    await event_collector.wait_for(answers(oid, "refunded"))
    too_much = refund(order, 2_001)
    await publish(too_much, source=AS)
    [rejected] = await event_collector.wait_for(answers(oid, "refund_rejected"))
    assert (
        rejected.data.items()
        >= {
            "amount_fen": 2_001,
            "refundable_fen": 2_000,
            "reason": "EXCEEDS_REFUNDABLE",
            "case_id": too_much.case_id,
        }.items()
    )
    after = await api.get(oid)
    assert after["refunded_fen"] == 3_000 and after["status"] == "PAID"
    assert await api.balance(f"escrow:{oid}") == 2_000
    assert [t["kind"] for t in await ledger_of(api, oid)] == ["PAYMENT", "REFUND"]
    await api.ledger_ok()


async def test_a_paid_order_cancelled_before_shipment_is_refunded_from_escrow(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=4_200)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    r = await api.client.post(
        f"/v1/orders/{oid}/cancel", json={"reason": "wrong size"}, headers=buyer(order["buyer_id"])
    )
    assert r.status_code == 200
    await event_collector.wait_for(lambda e: e.key == oid and e.type == "xinren.order.cancelled" and e.data["was_paid"])
    await publish(refund(order, 4_200), source=AS)  # what the refund service answers with
    done = await api.wait_status(oid, "REFUNDED")
    assert [t["status"] for t in done["timeline"]][-2:] == ["CANCELLED", "REFUNDED"]
    assert await api.balance(f"escrow:{oid}") == 0
    await api.ledger_ok()


async def test_a_refund_after_release_takes_seller_balance_then_deposit_then_guarantee(api, publish, event_collector):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=10_000)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    # The shop owes the guarantee 9000 (a compensation its empty deposit could not pay), then tops the deposit up.
    owed = CompensationGranted(
        order_id=oid, buyer_id=order["buyer_id"], shop_id=shop.shop_id, compensation_id=uid("cp"),
        kind="LATE_SHIPMENT", amount_fen=9_000, payer="SHOP_DEPOSIT",
    )  # fmt: skip
    await publish(owed, source=AS)
    await event_collector.wait_for(answers(oid, "compensation_paid"))
    r = await api.client.post(f"/v1/shops/{shop.shop_id}/deposit", json={"amount_fen": 300}, headers=admin())
    assert r.status_code == 200, r.text
    await api.ship_deliver(order, shop)
    r = await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(order["buyer_id"]))
    assert r.status_code == 200
    # 5% platform commission, no host; the release repaid the guarantee: 9500 - 9000.
    assert await api.balance(f"seller:{shop.shop_id}") == 500

    await publish(refund(order, 10_000), source=AS)
    [answer] = await event_collector.wait_for(answers(oid, "refunded"))
    assert answer.data["source"] == "PLATFORM_COMMISSION+SELLER_BALANCE+SHOP_DEPOSIT+PLATFORM_GUARANTEE"
    assert answer.data["platform_clawback_fen"] == 500 and answer.data["host_clawback_fen"] == 0
    txn = (await ledger_of(api, oid))[-1]
    assert txn["kind"] == "REFUND"
    assert {e["account"]: e["amount_fen"] for e in txn["entries"]} == {
        "platform:commission": -500,
        f"seller:{shop.shop_id}": -500,
        f"deposit:{shop.shop_id}": -300,
        "platform:guarantee": -8_700,
        "external:payouts": 10_000,
    }
    assert await api.balance(f"seller:{shop.shop_id}") == 0 and await api.balance(f"deposit:{shop.shop_id}") == 0
    assert await api.balance(f"receivable:{shop.shop_id}") == 8_700  # the shop owes the guarantee
    assert (await api.get(oid))["status"] == "REFUNDED"
    await api.ledger_ok()

    # The shop's next release repays the guarantee first.
    nxt = await api.paid_order(shop, sku, uid("u"))
    await api.ship_deliver(nxt, shop)
    await api.client.post(f"/v1/orders/{nxt['order_id']}/confirm-receipt", headers=buyer(nxt["buyer_id"]))
    assert [t["kind"] for t in await ledger_of(api, nxt["order_id"])] == ["PAYMENT", "RELEASE", "DEBT_REPAYMENT"]
    assert await api.balance(f"receivable:{shop.shop_id}") == 0
    assert await api.balance(f"seller:{shop.shop_id}") == 800
    await api.ledger_ok()


async def completed_with_host(api, *, price_fen: int, host_bps: int) -> tuple[dict, str, object]:
    shop = await api.shop()
    sku = await api.product(shop, price_fen=price_fen)
    host_id = await api.cooperating_host(shop, commission_bps=host_bps)
    order = await api.paid_order(shop, sku, uid("u"), host_id=host_id)
    await api.ship_deliver(order, shop)
    r = await api.client.post(f"/v1/orders/{order['order_id']}/confirm-receipt", headers=buyer(order["buyer_id"]))
    assert r.status_code == 200, r.text
    return order, host_id, shop


async def test_refunds_after_release_take_the_platform_and_host_commission_back_in_proportion(
    api, publish, event_collector
):
    order, host_id, shop = await completed_with_host(api, price_fen=10_000, host_bps=1_000)
    oid = order["order_id"]
    seller = f"seller:{shop.shop_id}"
    # Released: platform 5% = 500, host 10% = 1000, seller 8500.
    assert await api.balance(f"host:{host_id}") == 1_000 and await api.balance(seller) == 8_500

    expected = [
        # amount, platform back, host back, seller's part: cumulative shares of what was refunded, rounded down
        (4_000, 200, 400, 3_400),
        (3_333, 166, 333, 2_834),  # 7333 refunded: platform 366 (366.65), both 1099 (1099.95), host 733
        (2_667, 134, 267, 2_266),  # everything: every fen of commission is back
    ]
    for i, (amount, platform_back, host_back, seller_part) in enumerate(expected, start=1):
        await publish(refund(order, amount), source=AS)
        answer = (await event_collector.wait_for(answers(oid, "refunded"), count=i))[-1]
        assert answer.data["amount_fen"] == amount
        assert (answer.data["platform_clawback_fen"], answer.data["host_clawback_fen"]) == (platform_back, host_back)
        assert answer.data["source"] == "PLATFORM_COMMISSION+HOST_COMMISSION+SELLER_BALANCE"
        txn = (await ledger_of(api, oid))[-1]
        assert {e["account"]: e["amount_fen"] for e in txn["entries"]} == {
            "platform:commission": -platform_back,
            f"host:{host_id}": -host_back,
            seller: -seller_part,
            "external:payouts": amount,
        }
        await api.ledger_ok()
    assert await api.balance(f"host:{host_id}") == 0 and await api.balance(seller) == 0
    assert (await api.get(oid))["status"] == "REFUNDED"
    kinds = [t["kind"] for t in await ledger_of(api, oid)]
    assert kinds == ["PAYMENT", "RELEASE", "REFUND", "REFUND", "REFUND"]


async def test_a_refund_before_release_takes_no_commission_and_the_release_pays_on_what_is_left(
    api, publish, event_collector
):
    shop = await api.shop()
    sku = await api.product(shop, price_fen=10_000)
    host_id = await api.cooperating_host(shop, commission_bps=1_000)
    order = await api.paid_order(shop, sku, uid("u"), host_id=host_id)
    oid = order["order_id"]
    await publish(refund(order, 2_000), source=AS)
    [before] = await event_collector.wait_for(answers(oid, "refunded"))
    assert before.data["source"] == "ESCROW" and before.data["host_clawback_fen"] == 0
    await api.ship_deliver(order, shop)
    await api.client.post(f"/v1/orders/{oid}/confirm-receipt", headers=buyer(order["buyer_id"]))
    release = {e["account"]: e["amount_fen"] for e in (await ledger_of(api, oid))[-1]["entries"]}
    assert release[f"host:{host_id}"] == 800 and release["platform:commission"] == 400

    # After the release, the rest refunded in full: exactly what the release paid comes back.
    await publish(refund(order, 8_000), source=AS)
    after = (await event_collector.wait_for(answers(oid, "refunded"), count=2))[-1]
    assert (after.data["platform_clawback_fen"], after.data["host_clawback_fen"]) == (400, 800)
    assert await api.balance(f"host:{host_id}") == 0
    await api.ledger_ok()


async def test_a_compensation_the_platform_guarantee_pays_leaves_the_deposit_and_the_shop_owes_nothing(
    api, publish, event_collector
):
    shop = await api.shop(rights=["FAKE_ONE_PAY_TEN"], deposit_fen=50_000)
    sku = await api.product(shop, price_fen=20_000)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    grant = CompensationGranted(
        order_id=oid, buyer_id=order["buyer_id"], shop_id=shop.shop_id, compensation_id=uid("cp"),
        kind="COUNTERFEIT", amount_fen=200_000, payer="PLATFORM_GUARANTEE",
    )  # fmt: skip
    await publish(grant, grant.model_copy(), source=AS)
    [paid] = await event_collector.wait_for(answers(oid, "compensation_paid"))
    assert paid.data["payer"] == "PLATFORM_GUARANTEE" and paid.data["amount_fen"] == 200_000
    later = refund(order, 1_000)  # on the same partition after the duplicate: it was consumed by then
    await publish(later, source=AS)
    await event_collector.wait_for(answers(oid, "refunded"))
    assert len(event_collector.envelopes(answers(oid, "compensation_paid"))) == 1
    [txn] = [t for t in await ledger_of(api, oid) if t["kind"] == "GUARANTEE_COMPENSATION"]
    assert {e["account"]: e["amount_fen"] for e in txn["entries"]} == {
        "platform:guarantee": -200_000,
        "external:payouts": 200_000,
    }
    assert not [t for t in await ledger_of(api, oid) if t["kind"] == "COMPENSATION"]
    assert await api.balance(f"deposit:{shop.shop_id}") == 50_000
    assert await api.balance(f"receivable:{shop.shop_id}") == 0
    await api.ledger_ok()


async def test_compensation_is_paid_once_from_deposit_guarantee_or_subsidy(api, publish, event_collector):
    shop = await api.shop(rights=["FAKE_ONE_PAY_TEN"], deposit_fen=50_000)
    sku = await api.product(shop, price_fen=20_000)
    order = await api.paid_order(shop, sku, uid("u"))
    oid = order["order_id"]
    base = {"order_id": oid, "buyer_id": order["buyer_id"], "shop_id": shop.shop_id}
    counterfeit = CompensationGranted(
        **base, compensation_id=uid("cp"), kind="COUNTERFEIT", amount_fen=200_000, payer="SHOP_DEPOSIT"
    )
    shipping = CompensationGranted(
        **base, compensation_id=uid("cp"), kind="RETURN_SHIPPING", amount_fen=1_200, payer="PLATFORM"
    )
    await publish(counterfeit, counterfeit.model_copy(), shipping, source=AS)
    paid = await event_collector.wait_for(answers(oid, "compensation_paid"), count=2)
    assert {(e.data["compensation_id"], e.data["amount_fen"], e.data["payer"]) for e in paid} == {
        (counterfeit.compensation_id, 200_000, "SHOP_DEPOSIT"),
        (shipping.compensation_id, 1_200, "PLATFORM"),
    }
    txns = [t for t in await ledger_of(api, oid) if t["kind"] == "COMPENSATION"]
    assert len(txns) == 2
    moves = [{e["account"]: e["amount_fen"] for e in t["entries"]} for t in txns]
    assert {f"deposit:{shop.shop_id}": -50_000, "platform:guarantee": -150_000, "external:payouts": 200_000} in moves
    assert {"platform:subsidy": -1_200, "external:payouts": 1_200} in moves
    assert await api.balance(f"receivable:{shop.shop_id}") == 150_000
    # Compensation is not a refund: the whole payment remains refundable.
    assert (await api.get(oid))["refundable_fen"] == 20_000
    await api.ledger_ok()
