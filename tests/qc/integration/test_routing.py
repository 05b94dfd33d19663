"""Routing by category with real category names, on an app that does not consume the shared broker's orders."""

from ..support import paid, rid


async def test_a_jade_order_goes_to_a_jade_warehouse_and_uncovered_categories_to_a_general_one(qc_isolated):
    qc = qc_isolated
    jade = await qc.warehouse("jade", "Jewellery", name="Ruili jade inspection centre")
    antiques = await qc.warehouse("antiques", name="Beijing antiques")
    order_id, buyer_id, shop_id = rid("ord"), rid("u"), rid("shop")
    event = paid(order_id, "Jade", buyer_id=buyer_id, shop_id=shop_id)
    await qc.deliver(event)
    await qc.deliver(event)  # the same fact again under another event id: still one case
    opened = await qc.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id)
    assert opened[0].data["warehouse_id"] == jade["warehouse_id"]
    assert opened[0].data["warehouse_address"] == jade["address"]
    assert await qc.outbox_count("xinren.qc.case_opened", order_id) == 1
    case = await qc.case_of(order_id)
    assert case["category"] == "jade" and case["warehouse_id"] == jade["warehouse_id"]

    # A category nobody lists waits visibly; a general warehouse ("*") takes it, and later ones, but never a
    # category that has its own specialists.
    watch = rid("ord")
    await qc.deliver(paid(watch, "watches", buyer_id=buyer_id, shop_id=shop_id))
    assert (await qc.case_of(watch))["status"] == "AWAITING_ROUTING"
    general = await qc.warehouse("*", name="Shanghai general inspection")
    waiting = await qc.case_of(watch)
    assert general["routed_case_ids"] == [waiting["case_id"]] and waiting["warehouse_id"] == general["warehouse_id"]
    bag, vase = rid("ord"), rid("ord")
    await qc.deliver(paid(bag, "luxury", buyer_id=buyer_id, shop_id=shop_id))
    await qc.deliver(paid(vase, "antiques", buyer_id=buyer_id, shop_id=shop_id))
    assert (await qc.case_of(bag))["warehouse_id"] == general["warehouse_id"]
    assert (await qc.case_of(vase))["warehouse_id"] == antiques["warehouse_id"]
    for order in (watch, bag, vase):
        await qc.events.wait_for(lambda e, order=order: e.type == "xinren.qc.case_opened" and e.key == order)
