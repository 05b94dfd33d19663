"""Helpers for the quality-check tests: one running app, tokens for every role, and the events of other services."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from xinren_qc.consumers import EVENT_HANDLERS
from xinren_qc.models import infra
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderCancelled, OrderItem, OrderPaid, OrderShipped
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.events import Envelope
from xinren_shared.testing.http import bearer

SECRET = "qc-test-secret-0123456789abcdef0123456789"
ORDER_SOURCE = "/xinren/order"


def rid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def category() -> str:
    # Every warehouse a test creates inspects only categories of its own: the session's apps (`qc`, `qc_fast`) all
    # consume the same order topic, so each also sees the other tests' order.paid; with categories of their own,
    # routing stays predictable and no app answers an order meant for another. Real names ("jade", "*") are
    # used only in `qc_isolated`, which has no consumer.
    return f"jade-{uuid.uuid4().hex[:8]}"


def paid(
    order_id: str,
    cat: str,
    *,
    buyer_id: str,
    shop_id: str,
    title: str = "Burmese jadeite bangle",
    price: int = 6_000_000,
    warehouse_id: str | None = None,
) -> OrderPaid:
    return OrderPaid(
        order_id=order_id,
        buyer_id=buyer_id,
        shop_id=shop_id,
        items=[OrderItem(sku_id=rid("sku"), title=title, category=cat, unit_price_fen=price, quantity=1)],
        paid_fen=price,
        qc_required=True,
        category=cat,
        trust_rights=["FAKE_ONE_PAY_TEN"],
        warehouse_id=warehouse_id,
    )


def shipped(order_id: str, warehouse_id: str | None, *, tracking_no: str = "SF100") -> OrderShipped:
    return OrderShipped(
        order_id=order_id,
        destination=Destination.QC_WAREHOUSE,
        carrier="SF",
        tracking_no=tracking_no,
        warehouse_id=warehouse_id,
    )


def cancelled(order_id: str) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, reason="changed my mind", by="buyer", was_paid=True)


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Polls `probe` until it returns something truthy; fails with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")


@dataclass
class Qc:
    """One running quality-check app with its client, and shortcuts for the calls the tests make."""

    app: FastAPI
    client: httpx.AsyncClient
    publish: Callable
    events: Any  # the event_collector

    @property
    def runtime(self):
        return self.app.state.runtime

    # --- tokens ---------------------------------------------------------------------------------------------------
    def admin(self) -> dict[str, str]:
        return bearer(SECRET, "admin", "ops-1")

    def staff(self, warehouse_id: str, sub: str = "staff-1") -> dict[str, str]:
        return bearer(SECRET, "warehouse", sub, warehouse_id=warehouse_id)

    def inspector(self, warehouse_id: str, sub: str = "insp-1") -> dict[str, str]:
        return bearer(SECRET, "inspector", sub, warehouse_id=warehouse_id)

    def buyer(self, buyer_id: str) -> dict[str, str]:
        return bearer(SECRET, "buyer", buyer_id)

    def seller(self, shop_id: str) -> dict[str, str]:
        return bearer(SECRET, "seller", f"owner-{shop_id}", shop_id=shop_id)

    # --- calls ----------------------------------------------------------------------------------------------------
    async def warehouse(self, *categories: str, name: str = "Ruili jade inspection centre") -> dict:
        r = await self.client.post(
            "/v1/warehouses",
            json={"name": name, "address": "1 Jiegao Road, Ruili, Yunnan", "categories": list(categories)},
            headers=self.admin(),
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def case_of(self, order_id: str) -> dict | None:
        r = await self.client.get("/v1/qc/cases", params={"order_id": order_id}, headers=self.admin())
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) <= 1
        return items[0] if items else None

    async def case_in(self, order_id: str, *statuses: str, timeout: float = 20.0) -> dict:
        async def probe():
            case = await self.case_of(order_id)
            return case if case is not None and case["status"] in statuses else None

        return await eventually(probe, timeout=timeout)

    async def open_case(self, cat: str, *, buyer_id: str | None = None, shop_id: str | None = None, **kw) -> dict:
        """Plays order.paid and awaits qc.case_opened; returns the case."""
        order_id = rid("ord")
        await self.publish(
            paid(order_id, cat, buyer_id=buyer_id or rid("u"), shop_id=shop_id or rid("shop"), **kw),
            source=ORDER_SOURCE,
        )
        await self.events.wait_for(lambda e: e.type == "xinren.qc.case_opened" and e.key == order_id)
        return await self.case_in(order_id, "AWAITING_INBOUND")

    async def arrive(self, case: dict, tracking_no: str = "SF100") -> httpx.Response:
        return await self.client.post(
            f"/v1/qc/cases/{case['case_id']}/arrival",
            json={"tracking_no": tracking_no},
            headers=self.staff(case["warehouse_id"]),
        )

    async def verdict(
        self, case: dict, result: str = "PASSED", reason: str | None = None, *, headers=None
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "result": result,
            "findings": "natural jadeite, type A, no resin",
            "photos": ["https://img.example/1.jpg"],
        }
        if reason is not None:
            body["failure_reason"] = reason
            body["findings"] = f"{reason}: see photos"
        return await self.client.post(
            f"/v1/qc/cases/{case['case_id']}/verdict",
            json=body,
            headers=headers or self.inspector(case["warehouse_id"]),
        )

    async def dispatch(self, case: dict, tracking_no: str = "SF200") -> httpx.Response:
        return await self.client.post(
            f"/v1/qc/cases/{case['case_id']}/dispatch",
            json={"carrier": "SF", "tracking_no": tracking_no},
            headers=self.staff(case["warehouse_id"]),
        )

    # --- what the database says -----------------------------------------------------------------------------------
    async def outbox_count(self, type_: str, key: str) -> int:
        t = infra.outbox
        async with self.runtime.transaction() as s:
            return (
                await s.execute(select(func.count()).select_from(t).where(t.c.type == type_, t.c.key == key))
            ).scalar_one()

    async def handled(self, event_id: str) -> bool:
        t = infra.inbox
        async with self.runtime.transaction() as s:
            return (
                await s.execute(select(func.count()).select_from(t).where(t.c.event_id == event_id))
            ).scalar_one() > 0

    async def deliver(self, event) -> None:
        """Runs the consumer's handler for one order event, as the consumer would (for apps without a consumer)."""
        envelope = Envelope.of(event, ORDER_SOURCE)
        async with self.runtime.transaction() as session:
            await EVENT_HANDLERS[type(event)](session, event, EventContext(envelope, self.runtime))

    async def await_handled(self, envelopes) -> None:
        for env in envelopes:
            await eventually(lambda env=env: self.handled(env.id))
