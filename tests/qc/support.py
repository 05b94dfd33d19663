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
from xinren_shared.contracts.aftersales import AfterSaleCounterfeitUpheld
from xinren_shared.contracts.orders import (
    Address,
    OrderCancelled,
    OrderItem,
    OrderPaid,
    OrderShipmentCorrected,
    OrderShipped,
)
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.events import Envelope
from xinren_shared.testing.http import bearer

SECRET = "qc-test-secret-0123456789abcdef0123456789"
ORDER_SOURCE = "/xinren/order"
REFUND_SOURCE = "/xinren/refund"

BUYER_ADDRESS = Address(
    name="王芳", phone="13800138000", province="浙江省", city="杭州市", district="西湖区", line1="文三路 90 号 3 幢 501"
)
RETURN_ADDRESS = Address(
    name="林氏翡翠售后", phone="0758-2288123", province="广东省", city="肇庆市", district="四会市", line1="玉器街 18 号"
)


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
    shipping_address: Address | None = BUYER_ADDRESS,
    return_address: Address | None = RETURN_ADDRESS,
    host_id: str | None = None,
) -> OrderPaid:
    return OrderPaid(
        order_id=order_id,
        buyer_id=buyer_id,
        shop_id=shop_id,
        host_id=host_id,
        items=[OrderItem(sku_id=rid("sku"), title=title, category=cat, unit_price_fen=price, quantity=1)],
        paid_fen=price,
        qc_required=True,
        category=cat,
        trust_rights=["FAKE_ONE_PAY_TEN"],
        warehouse_id=warehouse_id,
        shipping_address=shipping_address,
        return_address=return_address,
    )


def shipped(order_id: str, warehouse_id: str | None, *, tracking_no: str = "SF100") -> OrderShipped:
    return OrderShipped(
        order_id=order_id,
        destination=Destination.QC_WAREHOUSE,
        carrier="SF",
        tracking_no=tracking_no,
        warehouse_id=warehouse_id,
    )


def corrected(
    order_id: str, warehouse_id: str | None, *, tracking_no: str, previous: str = "SF100", to_qc: bool = True
) -> OrderShipmentCorrected:
    return OrderShipmentCorrected(
        order_id=order_id,
        destination=Destination.QC_WAREHOUSE if to_qc else Destination.BUYER,
        carrier="SF",
        tracking_no=tracking_no,
        previous_carrier="SF",
        previous_tracking_no=previous,
        warehouse_id=warehouse_id,
    )


def upheld(case: dict, certificate_no: str | None = None, *, aftersale_case_id: str | None = None):
    return AfterSaleCounterfeitUpheld(
        order_id=case["order_id"],
        case_id=aftersale_case_id or rid("as"),
        certificate_no=certificate_no or case["certificate_no"],
        buyer_id=case["buyer_id"],
        shop_id=case["shop_id"],
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

    async def dispatch(self, case: dict, tracking_no: str = "SF200", address: dict | None = None) -> httpx.Response:
        body: dict[str, Any] = {"carrier": "SF", "tracking_no": tracking_no}
        if address is not None:
            body["address"] = address
        return await self.client.post(
            f"/v1/qc/cases/{case['case_id']}/dispatch", json=body, headers=self.staff(case["warehouse_id"])
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

    async def deliver(self, event, source: str = ORDER_SOURCE) -> None:
        """Runs the consumer's handler for one event, as the consumer would (for apps without a consumer)."""
        envelope = Envelope.of(event, source)
        async with self.runtime.transaction() as session:
            await EVENT_HANDLERS[type(event)](session, event, EventContext(envelope, self.runtime))

    async def await_handled(self, envelopes) -> None:
        for env in envelopes:
            await eventually(lambda env=env: self.handled(env.id))
