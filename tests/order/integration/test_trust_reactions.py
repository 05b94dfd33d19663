"""The shop follows the trust service's events (published here to xinren.trust.v1, as that service would): a
suspension stops new orders, a reinstatement lets it trade again, a fine moves from the deposit to the platform once,
an overturned fine comes back once, and the ledger check stays clean."""

from tests.order.conftest import ADDRESS, admin, buyer, eventually, uid
from xinren_shared.contracts.trust import (
    ActionKind,
    ShopStanding,
    TrustActionReversed,
    TrustActionTaken,
    TrustShopReinstated,
    TrustSubject,
    Violation,
)

TRUST = "/xinren/trust"


def taken(shop_id: str, kind: ActionKind, standing: ShopStanding, fine_fen: int = 0) -> TrustActionTaken:
    return TrustActionTaken(
        subject_kind=TrustSubject.SHOP, subject_id=shop_id, shop_id=shop_id, action_id=uid("act"), kind=kind,
        violation=Violation.COUNTERFEIT, step=1, fine_fen=fine_fen, shop_status=standing, reason="test",
    )  # fmt: skip


async def status_of(api, shop_id: str) -> str:
    return (await api.client.get(f"/v1/shops/{shop_id}", headers=buyer("anyone"))).json()["status"]


async def test_suspension_and_reinstatement_follow_the_trust_service(api, publish):
    shop = await api.shop()
    sku = await api.product(shop)
    await publish(taken(shop.shop_id, ActionKind.SUSPENSION, ShopStanding.SUSPENDED), source=TRUST)
    await eventually(lambda: _is(api, shop.shop_id, "SUSPENDED"), what="shop suspended")
    body = {"shop_id": shop.shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS}
    r = await api.client.post("/v1/orders", json=body, headers=buyer(uid("u")))
    assert r.status_code == 409 and r.json()["error"]["code"] == "SHOP_SUSPENDED"

    reinstated = TrustShopReinstated(
        subject_kind=TrustSubject.SHOP, subject_id=shop.shop_id, shop_id=shop.shop_id, action_id=uid("act"),
        shop_status=ShopStanding.ACTIVE, by="admin:ops",
    )  # fmt: skip
    await publish(reinstated, source=TRUST)
    await eventually(lambda: _is(api, shop.shop_id, "ACTIVE"), what="shop reinstated")
    r = await api.client.post("/v1/orders", json=body, headers=buyer(uid("u")))
    assert r.status_code == 201, r.text


async def test_the_order_services_own_reinstatement_points_to_the_trust_service(api, publish):
    shop = await api.shop()
    await publish(taken(shop.shop_id, ActionKind.SUSPENSION, ShopStanding.SUSPENDED), source=TRUST)
    await eventually(lambda: _is(api, shop.shop_id, "SUSPENDED"), what="shop suspended")
    r = await api.client.post(f"/v1/shops/{shop.shop_id}/reinstate", headers=admin())
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "REINSTATE_VIA_TRUST"
    assert error["details"]["route"] == f"POST /v1/trust/shops/{shop.shop_id}/reinstate"
    assert await status_of(api, shop.shop_id) == "SUSPENDED"  # nothing changed: trust's next event would re-suspend
    r = await api.client.post("/v1/shops/no-such-shop/reinstate", headers=admin())
    assert r.status_code == 404


async def test_a_fine_is_charged_once_and_an_overturned_fine_given_back_once(api, publish):
    shop = await api.shop(deposit_fen=500_000)
    deposit = f"deposit:{shop.shop_id}"
    fine = taken(shop.shop_id, ActionKind.FINE, ShopStanding.ACTIVE, fine_fen=200_000)
    await publish(fine, fine, source=TRUST)  # a redelivery charges nothing more
    await eventually(lambda: _balance_is(api, deposit, 300_000), what="fine charged")
    assert await api.balance("platform:fines") >= 200_000

    reversed_ = TrustActionReversed(
        subject_kind=TrustSubject.SHOP, subject_id=shop.shop_id, shop_id=shop.shop_id, action_id=fine.action_id,
        kind=ActionKind.FINE, violation=Violation.COUNTERFEIT, fine_fen=200_000, appeal_id=uid("apl"),
        shop_status=ShopStanding.ACTIVE, reason="overturned",
    )  # fmt: skip
    [first, _] = await publish(reversed_, reversed_, source=TRUST)
    await eventually(lambda: _balance_is(api, deposit, 500_000), what="fine given back")
    await eventually(lambda: api.handled(first.id), what="reversal handled")
    assert await api.balance(deposit) == 500_000
    check = (await api.client.get("/v1/ledger/check", headers=admin())).json()
    assert check["ok"], check["violations"]


async def test_a_fine_beyond_the_deposit_takes_only_the_deposit(api, publish):
    shop = await api.shop(deposit_fen=50_000)
    deposit = f"deposit:{shop.shop_id}"
    await publish(taken(shop.shop_id, ActionKind.FINE, ShopStanding.ACTIVE, fine_fen=200_000), source=TRUST)
    await eventually(lambda: _balance_is(api, deposit, 0), what="deposit emptied by the fine")


async def _is(api, shop_id: str, status: str) -> bool:
    return await status_of(api, shop_id) == status


async def _balance_is(api, account: str, fen: int) -> bool:
    return await api.balance(account) == fen
