"""The order service under test: one app on a fresh database (with its own consumer group), and helpers to play
the admin, sellers, buyers, partners and the other services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from tests.samples import ADDRESS
from xinren_order.app import create_app
from xinren_order.settings import OrderSettings
from xinren_shared.testing.http import bearer, serve

SECRET = "order-test-secret-0123456789abcdef"


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def admin() -> dict[str, str]:
    return bearer(SECRET, "admin", "ops_1")


def buyer(sub: str) -> dict[str, str]:
    return bearer(SECRET, "buyer", sub)


def seller(shop_id: str) -> dict[str, str]:
    return bearer(SECRET, "seller", f"u_{shop_id}", shop_id=shop_id)


def partner(
    sub: str = "sf_express", *, carriers: tuple[str, ...] = ("SF", "EMS"), shops: tuple[str, ...] = ()
) -> dict[str, str]:
    """A logistics partner: it reports deliveries of its carriers' parcels and reads its granted shops' orders."""
    return bearer(SECRET, "partner", sub, carriers=list(carriers) or None, shops=list(shops) or None)


def host(sub: str) -> dict[str, str]:
    return bearer(SECRET, "host", sub)


def order_settings(database_url: str, kafka: str, **overrides: Any) -> OrderSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka,
        "env": "test",
        "jwt_secret": SECRET,
        "consumer_group": f"test-order-{uuid.uuid4().hex}",
        "timer_poll_seconds": 0.2,
        "relay_poll_seconds": 0.5,
        "consumer_retry_base_seconds": 0.05,
        # Shares available at completion unless a test holds them (tests/order/integration/test_settlement.py).
        "settlement_hold_seconds": 0,
        "settlement_hold_short_seconds": 0,
    }
    values.update(overrides)
    return OrderSettings(**values)


@dataclass
class Shop:
    shop_id: str
    headers: dict[str, str]


@dataclass
class Driver:
    """Drives one order app: shops, products, orders, and the assertions most tests need."""

    client: httpx.AsyncClient
    app: FastAPI

    async def shop(self, *, rights: list[str] | None = None, deposit_fen: int = 0) -> Shop:
        shop_id = uid("shop")
        r = await self.client.post(
            "/v1/shops",
            json={
                "shop_id": shop_id,
                "name": f"Shop {shop_id}",
                "trust_rights": rights or [],
                "deposit_fen": deposit_fen,
            },
            headers=admin(),
        )
        assert r.status_code == 201, r.text
        return Shop(shop_id, seller(shop_id))

    async def product(self, shop: Shop, *, category: str = "snacks", price_fen: int = 9900, stock: int = 100) -> str:
        sku = uid("sku")
        r = await self.client.post(
            f"/v1/shops/{shop.shop_id}/products",
            json={"sku_id": sku, "title": f"Item {sku}", "category": category, "price_fen": price_fen, "stock": stock},
            headers=shop.headers,
        )
        assert r.status_code == 201, r.text
        return sku

    async def register_host(self, host_id: str | None = None) -> str:
        host_id = host_id or uid("host")
        r = await self.client.post("/v1/hosts", json={"host_id": host_id, "name": f"Host {host_id}"}, headers=admin())
        assert r.status_code == 201, r.text
        return host_id

    async def cooperate(
        self, shop: Shop, host_id: str, *, commission_bps: int | None = None, sku_ids: list[str] | None = None
    ) -> dict:
        """Binds the host to the shop (as its seller): for sku_ids, or the whole shop; the default rate if none."""
        body: dict[str, Any] = {"host_id": host_id}
        if commission_bps is not None:
            body["commission_bps"] = commission_bps
        if sku_ids is not None:
            body["sku_ids"] = sku_ids
        r = await self.client.post(f"/v1/shops/{shop.shop_id}/cooperations", json=body, headers=shop.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def cooperating_host(self, shop: Shop, *, commission_bps: int | None = None) -> str:
        """A newly registered host with a shop-wide cooperation with the shop."""
        host_id = await self.register_host()
        await self.cooperate(shop, host_id, commission_bps=commission_bps)
        return host_id

    async def order(
        self, shop: Shop, sku: str, buyer_id: str, *, quantity: int = 1, host_id: str | None = None
    ) -> dict:
        body: dict[str, Any] = {
            "shop_id": shop.shop_id,
            "items": [{"sku_id": sku, "quantity": quantity}],
            "shipping_address": ADDRESS,
        }
        if host_id:
            body["host_id"] = host_id
        r = await self.client.post("/v1/orders", json=body, headers=buyer(buyer_id))
        assert r.status_code == 201, r.text
        return r.json()

    async def paid_order(self, shop: Shop, sku: str, buyer_id: str, **kw: Any) -> dict:
        order = await self.order(shop, sku, buyer_id, **kw)
        r = await self.client.post(
            f"/v1/orders/{order['order_id']}/pay",
            json={"amount_fen": order["total_fen"], "method": "ALIPAY"},
            headers=buyer(buyer_id),
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def get(self, order_id: str, headers: dict[str, str] | None = None) -> dict:
        r = await self.client.get(f"/v1/orders/{order_id}", headers=headers or admin())
        assert r.status_code == 200, r.text
        return r.json()

    async def wait_status(self, order_id: str, status: str, timeout: float = 20.0) -> dict:
        return await self.wait_until(order_id, lambda o: o["status"] == status, timeout, f"status {status}")

    async def wait_until(
        self, order_id: str, predicate: Callable[[dict], bool], timeout: float = 20.0, what: str = "condition"
    ) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            order = await self.get(order_id)
            if predicate(order):
                return order
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"order {order_id} did not reach {what} within {timeout}s: {order['status']}")
            await asyncio.sleep(0.1)

    async def balance(self, account: str) -> int:
        r = await self.client.get(f"/v1/ledger/balances/{account}", headers=admin())
        assert r.status_code == 200, r.text
        return r.json()["balance_fen"]

    async def ledger_ok(self) -> dict:
        r = await self.client.get("/v1/ledger/check", headers=admin())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"], body["violations"]
        return body

    async def handled(self, event_id: str) -> bool:
        """Whether the consumer committed this event (its inbox row exists)."""
        inbox = self.app.state.runtime.tables.inbox
        async with self.app.state.runtime.session_factory() as session:
            return (
                await session.execute(select(inbox.c.event_id).where(inbox.c.event_id == event_id))
            ).first() is not None

    async def ship_deliver(self, order: dict, shop: Shop) -> dict:
        oid = order["order_id"]
        tracking = uid("SF")
        r = await self.client.post(
            f"/v1/orders/{oid}/shipments", json={"carrier": "SF", "tracking_no": tracking}, headers=shop.headers
        )
        assert r.status_code == 201, r.text
        r = await self.client.post(f"/v1/orders/{oid}/delivery", json={"tracking_no": tracking}, headers=partner())
        assert r.status_code == 200, r.text
        return r.json()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="session")
async def api(make_database, kafka_bootstrap, event_collector) -> Driver:
    """The shared app: long (production-like) timer durations, so no timer fires during the tests using it."""
    app = create_app(order_settings(await make_database("order"), kafka_bootstrap))
    async with serve(app) as client:
        yield Driver(client, app)
