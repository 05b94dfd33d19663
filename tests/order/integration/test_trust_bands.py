"""Buyers see a shop's and a product's public trust band (trust.score_changed, published here to xinren.trust.v1
as the trust service would) on the order, shop and product reads: unknown is null, the newest event by its time wins
(an older one arriving late changes nothing), hosts' bands are not kept, and the shop's strikes field is deprecated."""

from datetime import UTC, datetime, timedelta

from tests.order.conftest import ADDRESS, buyer, eventually, uid
from xinren_shared.contracts.trust import TrustScoreChanged, TrustSubject
from xinren_shared.events import Envelope

TRUST = "/xinren/trust"


def scored(kind: TrustSubject, subject_id: str, band: str, score: float, *, at: datetime | None = None) -> Envelope:
    event = TrustScoreChanged(subject_kind=kind, subject_id=subject_id, score=score, band=band)
    return Envelope.of(event, TRUST, time=at)


async def _shop_band(api, shop_id: str) -> str | None:
    return (await api.client.get(f"/v1/shops/{shop_id}", headers=buyer("anyone"))).json()["trust_band"]


async def test_the_order_shows_its_shops_and_products_bands_and_null_while_unknown(api, publish):
    shop = await api.shop()
    sku, other = await api.product(shop), await api.product(shop)
    buyer_id = uid("u")
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": s, "quantity": 1} for s in (sku, other)]}
    r = await api.client.post("/v1/orders", json={**body, "shipping_address": ADDRESS}, headers=buyer(buyer_id))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["trust"] is None  # a write's answer carries no bands
    seen = await api.get(order["order_id"], buyer(buyer_id))
    assert seen["trust"] == {
        "shop": {"band": None, "score": None},
        "items": [{"sku_id": s, "band": None, "score": None} for s in (sku, other)],
    }
    shop_read = (await api.client.get(f"/v1/shops/{shop.shop_id}", headers=buyer("anyone"))).json()
    assert shop_read["trust_band"] is None and shop_read["trust_score"] is None

    [_, last] = await publish(
        scored(TrustSubject.SHOP, shop.shop_id, "GOOD", 82.5),
        scored(TrustSubject.PRODUCT, sku, "POOR", 41.0),
        source=TRUST,
    )
    await eventually(lambda: api.handled(last.id), what="bands handled")
    seen = await api.get(order["order_id"], buyer(buyer_id))
    assert seen["trust"]["shop"] == {"band": "GOOD", "score": 82.5}
    assert seen["trust"]["items"] == [
        {"sku_id": sku, "band": "POOR", "score": 41.0},
        {"sku_id": other, "band": None, "score": None},
    ]
    assert await _shop_band(api, shop.shop_id) == "GOOD"
    product = (await api.client.get(f"/v1/products/{sku}", headers=buyer("anyone"))).json()
    assert (product["trust_band"], product["trust_score"]) == ("POOR", 41.0)
    listed = (await api.client.get(f"/v1/shops/{shop.shop_id}/products", headers=buyer("anyone"))).json()
    bands = {p["sku_id"]: p["trust_band"] for p in listed["items"]}
    assert bands == {sku: "POOR", other: None}
    mine = (await api.client.get("/v1/orders", headers=buyer(buyer_id))).json()["items"]
    assert [o["trust"]["shop"]["band"] for o in mine] == ["GOOD"]


async def test_the_newest_band_wins_and_a_late_older_one_changes_nothing(api, publish):
    shop = await api.shop()
    now = datetime.now(UTC)
    await publish(scored(TrustSubject.SHOP, shop.shop_id, "EXCELLENT", 95.0, at=now), source=TRUST)
    await eventually(lambda: _is(api, shop.shop_id, "EXCELLENT"), what="first band")
    [late, newer] = await publish(
        scored(TrustSubject.SHOP, shop.shop_id, "POOR", 30.0, at=now - timedelta(minutes=5)),
        scored(TrustSubject.SHOP, shop.shop_id, "FAIR", 61.0, at=now + timedelta(seconds=1)),
        source=TRUST,
    )
    await eventually(lambda: api.handled(newer.id), what="newer band handled")
    assert await api.handled(late.id)
    read = (await api.client.get(f"/v1/shops/{shop.shop_id}", headers=buyer("anyone"))).json()
    assert (read["trust_band"], read["trust_score"]) == ("FAIR", 61.0)
    [older] = await publish(
        scored(TrustSubject.SHOP, shop.shop_id, "POOR", 30.0, at=now), source=TRUST
    )  # older than FAIR's
    await eventually(lambda: api.handled(older.id), what="older band handled")
    assert await _shop_band(api, shop.shop_id) == "FAIR"


async def test_a_hosts_band_is_not_kept_under_a_shop_of_the_same_id(api, publish):
    shop = await api.shop()
    [event] = await publish(scored(TrustSubject.HOST, shop.shop_id, "POOR", 10.0), source=TRUST)
    await eventually(lambda: api.handled(event.id), what="host band handled")
    assert await _shop_band(api, shop.shop_id) is None


async def test_the_shops_strikes_field_is_deprecated_in_the_schema(api):
    schema = api.app.openapi()["components"]["schemas"]["ShopPublic"]["properties"]
    assert schema["strikes"]["deprecated"] is True
    assert "trust" in schema["strikes"]["description"]


async def _is(api, shop_id: str, band: str) -> bool:
    return await _shop_band(api, shop_id) == band
