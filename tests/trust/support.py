"""Helpers of the trust tests: other services' events published as they would, polling with deadlines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from xinren_shared.contracts.orders import OrderItem, OrderPaid, OrderShipped
from xinren_shared.contracts.qc import QcFailed
from xinren_shared.contracts.vocabulary import Destination, QcFailureReason
from xinren_shared.testing.http import bearer
from xinren_trust.settings import TrustSettings

SECRET = "trust-tests-secret-0123456789abcdef"
ORDER, QC, REFUND = "/xinren/order", "/xinren/qc", "/xinren/refund"
ADMIN = bearer(SECRET, "admin", "ops-1")


@dataclass
class Service:
    client: httpx.AsyncClient
    app: FastAPI
    settings: TrustSettings

    async def get(self, path: str, headers: dict[str, str], expect: int = 200, **params: Any) -> Any:
        r = await self.client.get(path, headers=headers, params=params)
        assert r.status_code == expect, r.text
        return r.json()

    async def post(self, path: str, headers: dict[str, str], body: dict[str, Any], expect: int = 200) -> Any:
        r = await self.client.post(path, headers=headers, json=body)
        assert r.status_code == expect, r.text
        return r.json()


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def seller(shop_id: str) -> dict[str, str]:
    return bearer(SECRET, "seller", f"staff-of-{shop_id}", shop_id=shop_id)


def host(host_id: str) -> dict[str, str]:
    return bearer(SECRET, "host", host_id)


def paid(shop_id: str, *, host_id: str | None = None, sku_id: str = "sku-jade", ship_in: float = 3600) -> OrderPaid:
    now = datetime.now(UTC)
    return OrderPaid(
        order_id=uid("ord"),
        buyer_id=uid("buyer"),
        shop_id=shop_id,
        host_id=host_id,
        items=[OrderItem(sku_id=sku_id, title="翡翠手镯", category="jade", unit_price_fen=600_000, quantity=1)],
        paid_fen=600_000,
        qc_required=True,
        category="jade",
        ship_by=now + timedelta(seconds=ship_in),
        paid_at=now,
    )


def shipped(order: OrderPaid) -> OrderShipped:
    return OrderShipped(
        order_id=order.order_id,
        shop_id=order.shop_id,
        destination=Destination.BUYER,
        carrier="SF",
        tracking_no=uid("SF"),
    )


def counterfeit(order: OrderPaid) -> QcFailed:
    return QcFailed(
        order_id=order.order_id,
        case_id=uid("qc"),
        shop_id=order.shop_id,
        reason=QcFailureReason.COUNTERFEIT,
        findings="resin, not jadeite",
    )


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "condition") -> Any:
    loop = asyncio.get_running_loop()
    deadline, last = loop.time() + timeout, None
    while True:
        last = await probe()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {last!r}")
        await asyncio.sleep(0.1)
