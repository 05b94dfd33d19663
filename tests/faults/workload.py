"""The mixed workload the faults hit: plain orders, jade orders that pass QC and counterfeits that fail it, refunds
before shipment, 7-day returns and cancellations, driven by a client that retries like a real app.

The client sends every write with an Idempotency-Key and, on a dropped connection, a timeout or a 5xx, sends the
very same request again with the same key until it gets an answer (the 5xx are counted). A retried request must
never make a second effect: the invariants check that afterwards. Order creation is also sent once more after its
answer, as a client that never saw the answer would, and must be answered with the same order.
"""

from __future__ import annotations

import asyncio
import io
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from tests.e2e.conftest import Stack
from tests.e2e.platform import JADE_MEASUREMENTS
from tests.samples import ADDRESS

JADE_PRICE = 600_000
PLAIN_PRICE = 19_900

# Each kind of order and the state the workload's own steps leave it in.
EXPECTED = {
    "plain": "COMPLETED",
    "jade_pass": "COMPLETED",
    "counterfeit": "REFUNDED",
    "refund_before_shipment": "REFUNDED",
    "return_7d": "REFUNDED",
    "cancelled": "CANCELLED",
}
KINDS = list(EXPECTED)


def rid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class Refused(Exception):
    """The API answered a request of the workload with a 4xx it did not expect."""


@dataclass
class Flow:
    kind: str
    buyer_id: str
    order_id: str | None = None
    acknowledged: bool = False  # POST /v1/orders answered 201
    step: str = "not started"
    error: str | None = None
    replay_mismatch: bool = False

    @property
    def expected(self) -> str:
        return EXPECTED[self.kind]


@dataclass
class Client:
    stack: Stack
    step_timeout: float
    status_5xx: int = 0  # server errors: anything 5xx but a 503 that says when to retry
    shed: int = 0  # 503 with Retry-After: the service said "not now" (busy, or its database unavailable)
    drops: int = 0
    replays: int = 0
    by_status: Counter[int] = field(default_factory=Counter)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 202),
        key: str | None = None,
    ) -> Any:
        """Sends until answered: the same request and the same Idempotency-Key after each drop or 5xx."""
        if method != "GET":
            headers = {**headers, "Idempotency-Key": key or uuid.uuid4().hex}
        deadline = time.monotonic() + self.step_timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                r = await self.stack.http(service).request(
                    method, path, headers=headers, json=json, params=params, files=files
                )
            except httpx.TransportError as exc:
                self.drops += 1
                last = f"{type(exc).__name__}"
                await asyncio.sleep(0.5)
                continue
            self.by_status[r.status_code] += 1
            if r.headers.get("idempotent-replayed") == "true":
                self.replays += 1
            if r.status_code >= 500:
                if r.status_code == 503 and "retry-after" in r.headers:
                    self.shed += 1
                else:
                    self.status_5xx += 1
                last = f"{r.status_code} {r.text[:200]}"
                await asyncio.sleep(0.5)
                continue
            if r.status_code == 409 and "IDEMPOTENCY_KEY_IN_FLIGHT" in r.text:
                await asyncio.sleep(0.3)
                continue
            if r.status_code in ok:
                return r.json() if r.content else None
            raise Refused(f"{method} {service}{path} → {r.status_code} {r.text[:500]}")
        raise Refused(f"{method} {service}{path}: no answer within {self.step_timeout}s (last: {last})")

    async def until(self, what: str, probe: Any) -> Any:
        deadline = time.monotonic() + self.step_timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = await probe()
            if last:
                return last
            await asyncio.sleep(0.3)
        raise Refused(f"{what} not reached within {self.step_timeout}s; last: {last!r}")


@dataclass
class Shop:
    shop_id: str
    seller: dict[str, str]
    sku_id: str


class Workload:
    """Sets up shops, products and a warehouse, then runs `orders` flows, `concurrency` at a time."""

    def __init__(self, stack: Stack, *, orders: int, concurrency: int, step_timeout: float):
        self.s = stack
        self.client = Client(stack, step_timeout)
        self.admin = stack.token("admin", "ops-faults")
        self.carrier = stack.token("partner", "logistics-sf", carriers=["SF"])
        self.flows = [Flow(KINDS[i % len(KINDS)], rid("u")) for i in range(orders)]
        random.shuffle(self.flows)
        self.concurrency = concurrency
        self.plain: Shop | None = None
        self.jade: Shop | None = None
        self.warehouse_id = ""
        self.started = asyncio.Event()
        self.done_count = 0

    # --- setup ------------------------------------------------------------------------------------------------
    async def shop(self, rights: list[str], category: str, price: int) -> Shop:
        shop_id = rid("shop")
        body = {
            "shop_id": shop_id,
            "name": f"故障店 {shop_id}",
            "trust_rights": rights,
            "deposit_fen": 500_000_000,
            "return_address": ADDRESS,
        }
        await self.client.call("order", "POST", "/v1/shops", self.admin, json=body)
        seller = self.s.token("seller", rid("seller"), shop_id=shop_id)
        product = {"title": f"{category} 直播款", "category": category, "price_fen": price, "stock": 100_000}
        p = await self.client.call("order", "POST", f"/v1/shops/{shop_id}/products", seller, json=product)
        return Shop(shop_id, seller, p["sku_id"])

    async def setup(self) -> None:
        wh = {
            "warehouse_id": rid("wh"),
            "name": "四会玉器质检中心",
            "address": "广东省四会市玉器城 8 号",
            "categories": ["jade"],
        }
        self.warehouse_id = (await self.client.call("qc", "POST", "/v1/warehouses", self.admin, json=wh))[
            "warehouse_id"
        ]
        self.plain = await self.shop(["SEVEN_DAY_RETURN"], "apparel", PLAIN_PRICE)
        self.jade = await self.shop(["FAKE_ONE_PAY_TEN"], "jade", JADE_PRICE)
        # Three counterfeits suspend a shop: each counterfeit order gets a jade shop of its own.
        self.counterfeit_shops = [
            await self.shop(["FAKE_ONE_PAY_TEN"], "jade", JADE_PRICE) for f in self.flows if f.kind == "counterfeit"
        ]

    # --- running ----------------------------------------------------------------------------------------------
    async def run(self) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        counterfeit_shops = iter(self.counterfeit_shops)

        async def one(flow: Flow) -> None:
            shop = next(counterfeit_shops) if flow.kind == "counterfeit" else None
            async with gate:
                self.started.set()
                try:
                    await getattr(self, f"flow_{flow.kind}")(flow, *([shop] if shop else []))
                    flow.step = "done"
                except Refused as exc:
                    flow.error = str(exc)
                except Exception as exc:  # an answer of an unexpected shape: the flow is stuck, the others go on
                    flow.error = f"{type(exc).__name__}: {exc}"
                finally:
                    self.done_count += 1

        await asyncio.gather(*(one(f) for f in self.flows))

    # --- steps ------------------------------------------------------------------------------------------------
    def buyer(self, flow: Flow) -> dict[str, str]:
        return self.s.token("buyer", flow.buyer_id)

    async def create(self, flow: Flow, shop: Shop) -> dict[str, Any]:
        flow.step = "create"
        body = {"shop_id": shop.shop_id, "items": [{"sku_id": shop.sku_id, "quantity": 1}], "shipping_address": ADDRESS}
        key = uuid.uuid4().hex
        order = await self.client.call("order", "POST", "/v1/orders", self.buyer(flow), json=body, ok=(201,), key=key)
        flow.order_id, flow.acknowledged = order["order_id"], True
        again = await self.client.call("order", "POST", "/v1/orders", self.buyer(flow), json=body, ok=(201,), key=key)
        flow.replay_mismatch = again["order_id"] != order["order_id"]
        return order

    async def pay(self, flow: Flow, order: dict[str, Any]) -> None:
        flow.step = "pay"
        body = {"amount_fen": order["total_fen"], "method": "SANDBOX"}
        await self.client.call("order", "POST", f"/v1/orders/{order['order_id']}/pay", self.buyer(flow), json=body)

    async def order_in(self, flow: Flow, *statuses: str) -> dict[str, Any]:
        flow.step = f"wait {'/'.join(statuses)}"

        async def probe() -> dict[str, Any] | None:
            order = await self.client.call("order", "GET", f"/v1/orders/{flow.order_id}", self.admin)
            return order if order["status"] in statuses else None

        return await self.client.until(f"order {flow.order_id} {statuses}", probe)

    async def ship(self, flow: Flow, shop: Shop) -> dict[str, Any]:
        flow.step = "ship"
        body = {"carrier": "SF", "tracking_no": rid("SF")}
        return await self.client.call(
            "order", "POST", f"/v1/orders/{flow.order_id}/shipments", shop.seller, json=body, ok=(201,)
        )

    async def deliver_and_confirm(self, flow: Flow) -> None:
        order = await self.order_in(flow, "SHIPPED")
        flow.step = "deliver"
        body = {"tracking_no": order["shipment"]["tracking_no"], "delivered_at": datetime.now(UTC).isoformat()}
        await self.client.call("order", "POST", f"/v1/orders/{flow.order_id}/delivery", self.carrier, json=body)
        flow.step = "confirm"
        await self.client.call("order", "POST", f"/v1/orders/{flow.order_id}/confirm-receipt", self.buyer(flow))

    async def qc_case(self, flow: Flow) -> dict[str, Any]:
        flow.step = "wait qc case"

        async def probe() -> dict[str, Any] | None:
            page = await self.client.call("qc", "GET", "/v1/qc/cases", self.admin, params={"order_id": flow.order_id})
            return page["items"][0] if page["items"] else None

        return await self.client.until(f"the qc case of {flow.order_id}", probe)

    async def to_inspection(self, flow: Flow, shop: Shop) -> dict[str, Any]:
        order = await self.create(flow, shop)
        await self.pay(flow, order)
        await self.order_in(flow, "AWAITING_QC_INBOUND")
        shipment = await self.ship(flow, shop)
        case = await self.qc_case(flow)
        flow.step = "arrival"
        staff = self.s.token("warehouse", rid("staff"), warehouse_id=case["warehouse_id"])
        body = {"tracking_no": shipment["tracking_no"]}
        await self.client.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/arrival", staff, json=body)
        return case

    async def verdict(self, flow: Flow, case: dict[str, Any], result: str, reason: str | None = None) -> None:
        flow.step = f"verdict {result}"
        body: dict[str, Any] = {
            "result": result,
            "findings": "折射率 1.66，结构致密 / RI 1.66, dense texture",
            "photos": ["https://img.example/qc/1.jpg"],
        }
        if reason:
            body["failure_reason"] = reason
        inspector = self.s.token("inspector", rid("inspector"), warehouse_id=case["warehouse_id"])
        if result == "PASSED":  # a pass completes the jade checklist: measurements, two uploaded photos, a seal
            photo_ids = []
            for colour in ("#2e8b57", "#3cb371"):
                buf = io.BytesIO()
                Image.new("RGB", (8, 8), colour).save(buf, "JPEG")
                files = {"file": ("qc.jpg", buf.getvalue(), "image/jpeg")}
                uploaded = await self.client.call("qc", "POST", "/v1/evidence", inspector, files=files)
                photo_ids.append(uploaded["evidence_id"])
            seal = f"SEAL-{uuid.uuid4().hex[:12].upper()}"
            body |= {"measurements": JADE_MEASUREMENTS, "photo_ids": photo_ids, "seal_id": seal}
        await self.client.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/verdict", inspector, json=body)

    # --- the six kinds of order -------------------------------------------------------------------------------
    async def flow_plain(self, flow: Flow) -> None:
        assert self.plain
        order = await self.create(flow, self.plain)
        await self.pay(flow, order)
        await self.ship(flow, self.plain)
        await self.deliver_and_confirm(flow)

    async def flow_jade_pass(self, flow: Flow) -> None:
        assert self.jade
        case = await self.to_inspection(flow, self.jade)
        await self.verdict(flow, case, "PASSED")
        flow.step = "dispatch"
        staff = self.s.token("warehouse", rid("staff"), warehouse_id=case["warehouse_id"])
        body = {"carrier": "SF", "tracking_no": rid("SF")}
        await self.client.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/dispatch", staff, json=body)
        await self.deliver_and_confirm(flow)

    async def flow_counterfeit(self, flow: Flow, shop: Shop) -> None:
        case = await self.to_inspection(flow, shop)
        await self.verdict(flow, case, "FAILED", "COUNTERFEIT")
        await self.order_in(flow, "REFUNDED")

    async def flow_refund_before_shipment(self, flow: Flow) -> None:
        assert self.plain
        order = await self.create(flow, self.plain)
        await self.pay(flow, order)
        flow.step = "cancel paid"
        body = {"reason": "不想要了"}
        await self.client.call("order", "POST", f"/v1/orders/{flow.order_id}/cancel", self.buyer(flow), json=body)
        await self.order_in(flow, "REFUNDED")

    async def flow_return_7d(self, flow: Flow) -> None:
        assert self.plain
        shop = self.plain
        order = await self.create(flow, shop)
        await self.pay(flow, order)
        await self.ship(flow, shop)
        order = await self.order_in(flow, "SHIPPED")
        flow.step = "deliver"
        body = {"tracking_no": order["shipment"]["tracking_no"], "delivered_at": datetime.now(UTC).isoformat()}
        await self.client.call("order", "POST", f"/v1/orders/{flow.order_id}/delivery", self.carrier, json=body)
        buyer = self.buyer(flow)
        flow.step = "wait refund sees delivery"

        async def eligible() -> bool:
            params = {"order_id": str(flow.order_id)}
            r = await self.client.call(
                "refund", "GET", "/v1/after-sales/eligibility", buyer, params=params, ok=(200, 404)
            )
            return bool(r and r.get("delivered_at"))

        await self.client.until(f"the refund service seeing {flow.order_id} delivered", eligible)
        flow.step = "open return"
        body = {"order_id": flow.order_id, "type": "RETURN_AND_REFUND", "reason": "NO_REASON_7D", "evidence": []}
        case = await self.client.call("refund", "POST", "/v1/after-sales", buyer, json=body, ok=(201,))
        path = f"/v1/after-sales/{case['case_id']}"
        flow.step = "approve return"
        await self.client.call("refund", "POST", f"{path}/approve", shop.seller, json={"reason": "同意退货"})
        flow.step = "ship return"
        body = {"carrier": "YTO", "tracking_no": rid("YT")}
        await self.client.call("refund", "POST", f"{path}/return-shipment", buyer, json=body)
        flow.step = "return received"
        await self.client.call("refund", "POST", f"{path}/return-received", shop.seller, json={})
        await self.order_in(flow, "REFUNDED")

    async def flow_cancelled(self, flow: Flow) -> None:
        assert self.plain
        await self.create(flow, self.plain)
        flow.step = "cancel"
        body = {"reason": "拍错了"}
        await self.client.call("order", "POST", f"/v1/orders/{flow.order_id}/cancel", self.buyer(flow), json=body)
