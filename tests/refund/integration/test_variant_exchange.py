"""An exchange for another variant of the line's product (order.delivered names the variants): a cheaper variant's
price difference is refunded through refund.requested once the goods are back, while the case goes on to the
replacement; a dearer variant, an SKU that is no variant, a replacement on another handling way are refused."""

from datetime import UTC, datetime, timedelta

from xinren_shared.contracts.orders import OrderDelivered, ProductVariant

from ..support import (
    ORDER_SOURCE,
    Order,
    case_reaches,
    command,
    eventually,
    get_case,
    open_case,
    order_events,
    refunded,
    uid,
)


async def delivered_with_variants(refund, publish, prices: dict[str, int]) -> tuple[Order, str, dict[str, str]]:
    """An order of one 10 000 fen line, delivered, whose product has variants at these prices (by name)."""
    order, events = order_events(paid_fen=10_000, delivered_at=datetime.now(UTC) - timedelta(hours=1))
    sku = events[0].items[0].sku_id
    group = uid("prd")
    skus = {name: uid("sku") for name in prices}
    variants = [ProductVariant(sku_id=sku, product_id=group, title="bangle 54", unit_price_fen=10_000)]
    variants += [ProductVariant(sku_id=skus[n], product_id=group, title=n, unit_price_fen=p) for n, p in prices.items()]
    variants.append(ProductVariant(sku_id=uid("sku"), product_id=uid("prd"), title="other product", unit_price_fen=1))
    delivered = events[-1]
    events[-1] = OrderDelivered(**delivered.model_dump(exclude={"variants"}), variants=variants)
    await publish(*events, source=ORDER_SOURCE)

    async def known():
        r = await refund.client.get(
            "/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=order.buyer
        )
        return r.status_code == 200 and r.json()["delivered_at"] is not None

    await eventually(known, what="the delivered order known")
    return order, sku, skus


async def test_a_cheaper_variant_refunds_the_difference_and_the_exchange_goes_on(refund, publish, event_collector):
    order, sku, skus = await delivered_with_variants(refund, publish, {"52": 9_000, "56": 11_000})
    case = await open_case(refund, order, type="EXCHANGE", reason="NOT_AS_DESCRIBED", replacement_sku_id=skus["52"])
    cid = case["case_id"]
    assert case["amount_fen"] == 1_000
    assert case["items"] == [
        {"sku_id": sku, "title": "冰种翡翠手镯", "quantity": 1, "amount_fen": 1_000, "replacement_sku_id": skus["52"]}
    ]
    [requested] = await event_collector.wait_for(
        lambda e: e.type == "xinren.aftersale.requested" and e.data["case_id"] == cid
    )
    assert requested.data["items"][0]["replacement_sku_id"] == skus["52"]
    await command(refund, cid, "approve", order.seller, {"reason": "ok"})
    await command(refund, cid, "return-shipment", order.buyer, {"carrier": "SF", "tracking_no": uid("SF")})
    await command(refund, cid, "return-received", order.seller)
    [asked] = await event_collector.wait_for(lambda e: e.type == "xinren.refund.requested" and e.data["case_id"] == cid)
    assert asked.data["amount_fen"] == 1_000
    after = await get_case(refund, cid)
    assert after["status"] == "AWAITING_REPLACEMENT"  # the money does not hold the replacement back
    await publish(refunded(order, asked.data, 1_000), source=ORDER_SOURCE)

    async def recorded():
        c = await get_case(refund, cid)
        return c if c["refunded_fen"] == 1_000 else None

    c = await eventually(recorded, what="the difference recorded")
    assert c["status"] == "AWAITING_REPLACEMENT"
    await command(refund, cid, "replacement-shipment", order.seller, {"carrier": "SF", "tracking_no": uid("SF")})
    await command(refund, cid, "replacement-received", order.buyer)
    done = await case_reaches(refund, cid, "COMPLETED")
    assert done["refunded_fen"] == 1_000


async def test_a_dearer_variant_another_product_or_another_way_is_refused(refund, publish):
    order, sku, skus = await delivered_with_variants(refund, publish, {"56": 11_000, "same": 10_000})
    base = {"type": "EXCHANGE", "reason": "NOT_AS_DESCRIBED"}
    r = await open_case(refund, order, expect=422, **base, replacement_sku_id=skus["56"])
    assert r["error"]["code"] == "REPLACEMENT_DEARER"
    r = await open_case(refund, order, expect=422, **base, replacement_sku_id=uid("sku"))
    assert r["error"]["code"] == "NOT_A_VARIANT"
    r = await open_case(refund, order, expect=422, type="RETURN_AND_REFUND", reason="NOT_AS_DESCRIBED",
                        replacement_sku_id=skus["same"])  # fmt: skip
    assert r["error"]["code"] == "REPLACEMENT_ONLY_FOR_EXCHANGE"
    same = await open_case(refund, order, **base, replacement_sku_id=skus["same"])
    assert same["amount_fen"] == 0 and same["items"][0]["replacement_sku_id"] == skus["same"]
