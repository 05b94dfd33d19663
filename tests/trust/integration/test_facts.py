"""What the trust service remembers of orders from their events: who each belongs to and what it holds."""

from sqlalchemy import select

from tests.trust.support import ORDER, eventually, paid, uid
from xinren_shared.contracts.orders import OrderCreated, OrderItem
from xinren_shared.contracts.vocabulary import TrustRight
from xinren_trust.models import OrderFact


def created(shop_id: str, *, host_id: str | None, skus: list[str], rights: list[TrustRight]) -> OrderCreated:
    items = [OrderItem(sku_id=s, title="翡翠手镯", category="jade", unit_price_fen=600_000, quantity=1) for s in skus]
    return OrderCreated(
        order_id=uid("ord"), buyer_id=uid("buyer"), shop_id=shop_id, host_id=host_id, items=items,
        total_fen=600_000 * len(skus), qc_required=True, trust_rights=rights,
    )  # fmt: skip


async def facts(trust, order_ids: list[str]) -> dict[str, OrderFact]:
    async with trust.app.state.runtime.session_factory() as s:
        rows = (await s.execute(select(OrderFact).where(OrderFact.order_id.in_(order_ids)))).scalars()
        return {f.order_id: f for f in rows}


async def _all(trust, ids: list[str]) -> dict[str, OrderFact] | None:
    known = await facts(trust, ids)
    return known if len(known) == len(ids) else None


async def test_orders_created_together_are_each_remembered_and_payment_adds_its_ship_by(trust, publish):
    """order.created events arriving together (a flash sale's, handled in one statement) each leave their order's
    shop, host, products (once each, sorted) and rights; the order's order.paid then adds its ship-by time."""
    shop_id, host_id = uid("shop"), uid("host")
    orders = [
        created(shop_id, host_id=host_id, skus=["sku-b", "sku-a", "sku-b"], rights=[TrustRight.SEVEN_DAY_RETURN]),
        *[created(shop_id, host_id=None, skus=[f"sku-{n}"], rights=[]) for n in range(6)],
    ]
    await publish(*orders, source=ORDER)
    ids = [o.order_id for o in orders]
    known = await eventually(lambda: _all(trust, ids), what="every order remembered")
    first = known[ids[0]]
    assert (first.shop_id, first.host_id, first.sku_ids) == (shop_id, host_id, ["sku-a", "sku-b"])
    assert first.trust_rights == ["SEVEN_DAY_RETURN"] and first.ship_by is None
    assert [(known[i].host_id, known[i].sku_ids, known[i].trust_rights) for i in ids[1:]] == [
        (None, [f"sku-{n}"], []) for n in range(6)
    ]

    payment = paid(shop_id, host_id=host_id, sku_id="sku-a").model_copy(update={"order_id": ids[0]})
    await publish(payment, source=ORDER)

    async def shipping_time_known():
        fact = (await facts(trust, [ids[0]])).get(ids[0])
        return fact if fact is not None and fact.ship_by is not None else None

    fact = await eventually(shipping_time_known, what="the paid order's ship-by time")
    assert fact.ship_by == payment.ship_by and fact.sku_ids == ["sku-a"]
