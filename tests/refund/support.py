"""Helpers of the refund tests: orders set up by publishing the order service's events, polling with deadlines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from xinren_refund.settings import RefundSettings
from xinren_shared.contracts.orders import (
    Address,
    OrderCreated,
    OrderDelivered,
    OrderItem,
    OrderPaid,
    OrderRefunded,
    OrderShipped,
)
from xinren_shared.contracts.vocabulary import Destination, TrustRight
from xinren_shared.testing.http import bearer

SECRET = "refund-tests-secret-0123456789abcdef"
ORDER_SOURCE = "/xinren/order"
QC_SOURCE = "/xinren/quality-check"


@dataclass
class Service:
    client: httpx.AsyncClient
    app: FastAPI
    settings: RefundSettings

    @property
    def runtime(self):
        return self.app.state.runtime

    async def outbox_count(self, type_: str, key: str) -> int:
        """Events the service has committed to publish (deterministic, unlike what has reached Kafka yet)."""
        table = self.runtime.tables.outbox
        async with self.runtime.session_factory() as s:
            stmt = select(func.count()).select_from(table).where(table.c.type == type_, table.c.key == key)
            return (await s.execute(stmt)).scalar()

    async def handled(self, event_id: str) -> bool:
        """Whether the consumer has handled (committed) the event with this id."""
        table = self.runtime.tables.inbox
        async with self.runtime.session_factory() as s:
            return (
                await s.execute(select(func.count()).select_from(table).where(table.c.event_id == event_id))
            ).scalar() > 0


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def buyer_headers(sub: str) -> dict[str, str]:
    return bearer(SECRET, "buyer", sub)


def seller_headers(shop_id: str, sub: str | None = None) -> dict[str, str]:
    return bearer(SECRET, "seller", sub or f"staff-of-{shop_id}", shop_id=shop_id)


ADMIN = bearer(SECRET, "admin", "ops-1")


@dataclass
class Order:
    order_id: str
    buyer_id: str
    shop_id: str
    paid_fen: int
    rights: list[TrustRight] = field(default_factory=list)

    @property
    def buyer(self) -> dict[str, str]:
        return buyer_headers(self.buyer_id)

    @property
    def seller(self) -> dict[str, str]:
        return seller_headers(self.shop_id)


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, what: str = "condition") -> Any:
    """Polls until the probe returns something truthy; fails with the last value when the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while True:
        last = await probe()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last seen: {last!r}")
        await asyncio.sleep(0.1)


RETURN_ADDRESS = Address(
    name="林氏翡翠售后", phone="0758-2288123", province="广东省", city="肇庆市", district="四会市", line1="玉器街 18 号"
)


def order_events(
    *,
    paid_fen: int = 10_000,
    rights: list[TrustRight] | tuple = (),
    shipped: bool = False,
    delivered_at: datetime | None = None,
    qc_required: bool = False,
    return_address: Address | None = None,
) -> tuple[Order, list]:
    """A new order and the order service's events for it: created → paid (→ shipped → delivered)."""
    order = Order(uid("ord"), uid("u"), uid("shop"), paid_fen, list(rights))
    items = [OrderItem(sku_id=uid("sku"), title="冰种翡翠手镯", category="jade", unit_price_fen=paid_fen, quantity=1)]
    common = dict(order_id=order.order_id, buyer_id=order.buyer_id, shop_id=order.shop_id)
    events: list = [
        OrderCreated(**common, items=items, total_fen=paid_fen, qc_required=qc_required, trust_rights=list(rights)),
        OrderPaid(
            **common,
            items=items,
            paid_fen=paid_fen,
            qc_required=qc_required,
            category="jade",
            trust_rights=list(rights),
            return_address=return_address,
        ),
    ]
    if shipped or delivered_at is not None:
        destination = Destination.QC_WAREHOUSE if qc_required else Destination.BUYER
        events.append(OrderShipped(**common, destination=destination, carrier="SF", tracking_no=uid("SF")))
    if delivered_at is not None:
        events.append(OrderDelivered(**common, delivered_at=delivered_at))
    return order, events


async def place_order(
    svc: Service,
    publish,
    *,
    paid_fen: int = 10_000,
    rights: list[TrustRight] | tuple = (),
    shipped: bool = False,
    delivered_at: datetime | None = None,
    qc_required: bool = False,
    return_address: Address | None = None,
) -> Order:
    """Plays the order service: created → paid (→ shipped → delivered), then waits until the refund service knows."""
    order, events = order_events(
        paid_fen=paid_fen,
        rights=rights,
        shipped=shipped,
        delivered_at=delivered_at,
        qc_required=qc_required,
        return_address=return_address,
    )
    await publish(*events, source=ORDER_SOURCE)

    async def known():
        r = await svc.client.get(
            "/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=order.buyer
        )
        if r.status_code != 200:
            return None
        body = r.json()
        ready = body["paid_fen"] == paid_fen
        ready = ready and (not (shipped or delivered_at) or body["shipped_at"] is not None)
        ready = ready and (delivered_at is None or body["delivered_at"] is not None)
        return body if ready else None

    await eventually(known, what=f"order {order.order_id} known to the refund service")
    return order


async def open_case(svc: Service, order: Order, *, expect: int = 201, key: str | None = None, **body) -> dict:
    payload = {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER", **body}
    headers = dict(order.buyer)
    if key:
        headers["Idempotency-Key"] = key
    r = await svc.client.post("/v1/after-sales", json=payload, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


async def get_case(svc: Service, case_id: str) -> dict:
    r = await svc.client.get(f"/v1/after-sales/{case_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


async def case_reaches(svc: Service, case_id: str, status: str, *, timeout: float = 20.0) -> dict:
    async def probe():
        case = await get_case(svc, case_id)
        return case if case["status"] == status else None

    return await eventually(probe, timeout=timeout, what=f"case {case_id} in {status}")


async def command(
    svc: Service, case_id: str, action: str, headers: dict, body: dict | None = None, expect: int = 200
) -> dict:
    r = await svc.client.post(f"/v1/after-sales/{case_id}/{action}", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r.json()


def refunded(order: Order, request_data: dict, refunded_total_fen: int, source: str = "ESCROW") -> OrderRefunded:
    """The order service's answer to a refund.requested (its data as published)."""
    return OrderRefunded(
        order_id=order.order_id,
        buyer_id=order.buyer_id,
        shop_id=order.shop_id,
        case_id=request_data["case_id"],
        amount_fen=request_data["amount_fen"],
        refunded_total_fen=refunded_total_fen,
        source=source,
        refund_id=request_data.get("refund_id"),
    )


def statuses(case: dict) -> list[str]:
    return [t["status"] for t in case["timeline"]]


def about(type_: str, **data) -> Callable:
    """Matches events of a type whose data carry these values. Match on ids this app's API gave (case_id,
    compensation_id): every refund app in the session consumes the same order and QC events."""
    return lambda e: e.type == type_ and all(e.data.get(k) == v for k, v in data.items())
