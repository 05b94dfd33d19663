"""The ladder from QC events: warning, fine, suspension in that order; reinstatement keeps the history and the next
counterfeit suspends again; appeals uphold or overturn (fine given back, violation and score restored)."""

from sqlalchemy import func, select
from sqlmodel import col

from tests.trust.support import ADMIN, ORDER, QC, counterfeit, eventually, host, paid, seller, uid
from xinren_trust.models import OrderFact


async def actions_of(trust, shop_id, n, headers=None):
    """The first `n` actions the caller sees (the shop's seller by default), once there are that many."""

    async def probe():
        page = await trust.get("/v1/trust/actions", headers or seller(shop_id))
        return page["items"] if len(page["items"]) >= n else None

    return await eventually(probe, what=f"{n} actions of {shop_id}")


async def facts_of(trust, order_ids):
    """Once the trust service knows every one of the orders (their order.paid handled)."""

    async def probe():
        async with trust.app.state.runtime.session_factory() as s:
            known = (await s.execute(select(func.count()).where(col(OrderFact.order_id).in_(order_ids)))).scalar_one()
        return known == len(order_ids) or None

    return await eventually(probe, what=f"the facts of {len(order_ids)} orders")


async def test_three_counterfeits_warn_fine_suspend_and_a_fourth_after_reinstatement_suspends_again(
    trust, publish, event_collector
):
    shop_id, host_id = uid("shop"), uid("host")
    orders = [paid(shop_id, host_id=host_id) for _ in range(4)]
    await publish(*orders, source=ORDER)
    # The host is known from the paid order (another topic than QC's): its facts first, as a QC verdict always
    # comes after the payment.
    await facts_of(trust, [o.order_id for o in orders])
    for order in orders[:3]:
        await publish(counterfeit(order), source=QC)
    actions = await actions_of(trust, shop_id, 3)
    assert [a["kind"] for a in reversed(actions)] == ["WARNING", "FINE", "SUSPENSION"]
    assert [a["step"] for a in reversed(actions)] == [1, 2, 3] and actions[1]["fine_fen"] == 200_000
    assert all(a["violation"] == "COUNTERFEIT" and a["status"] == "ACTIVE" for a in actions)
    taken = await event_collector.wait_for(
        lambda e: (
            e.type == "xinren.trust.action_taken"
            and e.key == shop_id  # the shop's own action (the live room's host climbs a ladder of its own)
            and e.data.get("shop_id") == shop_id
            and e.data["kind"] == "SUSPENSION"
        )
    )
    assert taken[-1].data["shop_status"] == "SUSPENDED"

    view = await trust.get(f"/v1/trust/shops/{shop_id}", seller(shop_id))
    assert view["status"] == "SUSPENDED" and len(view["actions"]) == 3
    assert {i["name"] for i in view["indicators"]} >= {"counterfeit_findings", "qc_pass_rate"}
    findings = next(i for i in view["indicators"] if i["name"] == "counterfeit_findings")
    assert findings["value"] == 3 and findings["contribution"] == 0.0
    # A buyer sees the score and band only.
    public = await trust.get(f"/v1/trust/shops/{shop_id}", host(uid("viewer")))
    assert public["indicators"] == [] and public["actions"] == [] and public["score"] == view["score"]
    # The host of the live room climbs its own ladder (no fines for hosts), as its own actions are taken: the shop's
    # third may be seen before the host's.
    host_actions = await actions_of(trust, host_id, 3, host(host_id))
    assert [a["kind"] for a in reversed(host_actions)] == ["WARNING", "TRAFFIC_LIMIT", "SUSPENSION"]

    reinstated = await trust.post(f"/v1/trust/shops/{shop_id}/reinstate", ADMIN, {})
    assert reinstated["status"] == "ACTIVE"
    await trust.post(f"/v1/trust/shops/{shop_id}/reinstate", ADMIN, {}, expect=409)
    assert (await trust.get(f"/v1/trust/shops/{shop_id}", ADMIN))["status"] == "ACTIVE"
    await publish(counterfeit(orders[3]), source=QC)
    actions = await actions_of(trust, shop_id, 4)
    assert actions[0]["kind"] == "SUSPENSION" and actions[0]["step"] == 4
    assert actions[1]["status"] == "LIFTED"
    assert (await trust.get(f"/v1/trust/shops/{shop_id}", ADMIN))["status"] == "SUSPENDED"


async def test_an_overturned_fine_is_reversed_and_no_longer_counts(trust, publish, event_collector):
    shop_id = uid("shop")
    orders = [paid(shop_id) for _ in range(2)]
    await publish(*orders, source=ORDER)
    for order in orders:
        await publish(counterfeit(order), source=QC)
    actions = await actions_of(trust, shop_id, 2)
    fine = actions[0]
    assert fine["kind"] == "FINE"
    before = (await trust.get(f"/v1/trust/shops/{shop_id}", ADMIN))["score"]

    # Only the shop concerned may appeal; others see no such action.
    other = uid("shop")
    await trust.post("/v1/trust/appeals", seller(other), {"action_id": fine["action_id"], "reason": "x"}, expect=404)
    body = {"action_id": fine["action_id"], "reason": "the report names another item", "evidence_ids": ["ev_1"]}
    appeal = await trust.post("/v1/trust/appeals", seller(shop_id), body, expect=201)
    assert appeal["status"] == "PENDING" and appeal["action"]["status"] == "APPEALED"
    await trust.post("/v1/trust/appeals", seller(shop_id), body, expect=409)
    pending = await trust.get("/v1/trust/appeals", ADMIN, status="PENDING")
    assert appeal["appeal_id"] in {a["appeal_id"] for a in pending["items"]}

    decided = await trust.post(
        f"/v1/trust/appeals/{appeal['appeal_id']}/decide", ADMIN, {"decision": "OVERTURN", "reason": "wrong item"}
    )
    assert decided["status"] == "OVERTURNED" and decided["action"]["status"] == "OVERTURNED"
    await trust.post(
        f"/v1/trust/appeals/{appeal['appeal_id']}/decide", ADMIN, {"decision": "UPHOLD", "reason": "x"}, expect=409
    )
    reversed_ = await event_collector.wait_for(
        lambda e: e.type == "xinren.trust.action_reversed" and e.data.get("action_id") == fine["action_id"]
    )
    assert reversed_[0].data["fine_fen"] == 200_000 and reversed_[0].data["shop_status"] == "ACTIVE"
    after = await trust.get(f"/v1/trust/shops/{shop_id}", ADMIN)
    findings = next(i for i in after["indicators"] if i["name"] == "counterfeit_findings")
    assert findings["value"] == 1 and after["score"] > before

    # The overturned violation no longer counts: the next counterfeit is the second again (a fine, not a suspension).
    third = paid(shop_id)
    await publish(third, source=ORDER)
    await publish(counterfeit(third), source=QC)
    actions = await actions_of(trust, shop_id, 3)
    assert actions[0]["kind"] == "FINE" and actions[0]["step"] == 2


async def test_an_upheld_appeal_keeps_the_action(trust, publish):
    shop_id = uid("shop")
    order = paid(shop_id)
    await publish(order, source=ORDER)
    await publish(counterfeit(order), source=QC)
    (warning,) = await actions_of(trust, shop_id, 1)
    appeal = await trust.post(
        "/v1/trust/appeals", seller(shop_id), {"action_id": warning["action_id"], "reason": "r"}, expect=201
    )
    decided = await trust.post(
        f"/v1/trust/appeals/{appeal['appeal_id']}/decide", ADMIN, {"decision": "UPHOLD", "reason": "photos clear"}
    )
    assert decided["status"] == "UPHELD" and decided["action"]["status"] == "UPHELD"
    again = {"action_id": warning["action_id"], "reason": "again"}
    r = await trust.client.post("/v1/trust/appeals", headers=seller(shop_id), json=again)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ACTION_NOT_APPEALABLE"


async def test_a_counterfeit_consumed_before_the_orders_events_still_charges_its_host_and_product(trust, publish):
    """qc.failed names the live room's host and the products (from order.paid): a verdict the trust service
    consumes before the order's own events (another topic, e.g. while it catches up after an outage) climbs the
    host's ladder and counts against the product all the same."""
    shop_id, host_id, sku = uid("shop"), uid("host"), uid("sku")
    order = paid(shop_id, host_id=host_id, sku_id=sku)  # never published here: no fact of the order
    await publish(counterfeit(order).model_copy(update={"host_id": host_id, "sku_ids": [sku]}), source=QC)
    [shop_action] = await actions_of(trust, shop_id, 1)
    [host_action] = await actions_of(trust, host_id, 1, host(host_id))
    assert (shop_action["kind"], host_action["kind"]) == ("WARNING", "WARNING")
    assert host_action["violation"] == "COUNTERFEIT" and host_action["order_id"] == order.order_id

    async def product_failures():
        view = await trust.get(f"/v1/trust/products/{sku}", ADMIN)
        found = [i["value"] for i in view["indicators"] if i["name"] == "product_qc_failures"]
        return found if found and found[0] >= 1 else None

    assert await eventually(product_failures, what="the product's QC failure") == [1]
    host_view = await trust.get(f"/v1/trust/hosts/{host_id}", host(host_id))
    assert any(i["name"] == "host_counterfeit_rate" for i in host_view["indicators"])
