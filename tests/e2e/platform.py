"""What the app and the partners do, as calls of the public REST API only: shops, products, orders, QC, after-sales."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from .conftest import Stack

ADDRESS = {
    "name": "王小明",
    "phone": "+86 138 0000 0000",
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "line1": "体育西路 1 号",
}


# The jade checklist a pass completes (GET /v1/qc/checklists/jade).
JADE_MEASUREMENTS = {
    "weight_g": 41.2,
    "length_mm": 58.0,
    "width_mm": 58.0,
    "thickness_mm": 8.1,
    "colour": "帝王绿",
    "transparency": "TRANSLUCENT",
    "refractive_index": 1.66,
    "specific_gravity": 3.33,
    "treatment": "A",
}


def rid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Shop:
    shop_id: str
    seller: dict[str, str]


class Platform:
    def __init__(self, stack: Stack):
        self.s = stack
        self.admin = stack.token("admin", "ops-1")
        self.partner = stack.token("partner", "logistics-sf", carriers=["SF"])  # reports SF parcels only
        self.orders: dict[str, str] = {}  # order_id -> the status the scenario left it in

    # --- helpers ---------------------------------------------------------------------------------------------
    async def call(
        self, service: str, method: str, path: str, headers: dict, *, expect: int | tuple = (200, 201), **kw
    ) -> Any:
        r = await self.s.http(service).request(method, path, headers=headers, **kw)
        expected = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in expected, f"{method} {service}{path} → {r.status_code} {r.text}"
        return r.json() if r.content else None

    def buyer(self) -> dict[str, str]:
        return self.s.token("buyer", rid("u"))

    # --- order service ---------------------------------------------------------------------------------------
    async def shop(self, rights: list[str], deposit_fen: int = 20_000_000) -> Shop:
        shop_id = rid("shop")
        await self.call(
            "order",
            "POST",
            "/v1/shops",
            self.admin,
            json={"shop_id": shop_id, "name": f"小店 {shop_id}", "trust_rights": rights, "deposit_fen": deposit_fen},
        )
        return Shop(shop_id, self.s.token("seller", rid("seller"), shop_id=shop_id))

    async def host(self, shop: Shop, host_id: str | None = None, commission_bps: int | None = None) -> str:
        """A registered host (it registers itself) in cooperation with the shop: only such a host may be named on
        an order of the shop."""
        host_id = host_id or rid("host")
        await self.call(
            "order",
            "POST",
            "/v1/hosts",
            self.s.token("host", host_id),
            json={"host_id": host_id, "name": f"主播 {host_id}"},
        )
        body: dict[str, Any] = {"host_id": host_id}
        if commission_bps is not None:
            body["commission_bps"] = commission_bps
        await self.call("order", "POST", f"/v1/shops/{shop.shop_id}/cooperations", shop.seller, json=body, expect=201)
        return host_id

    async def product(self, shop: Shop, category: str, price_fen: int, stock: int = 20) -> str:
        p = await self.call(
            "order",
            "POST",
            f"/v1/shops/{shop.shop_id}/products",
            shop.seller,
            json={"title": f"{category} 直播款", "category": category, "price_fen": price_fen, "stock": stock},
        )
        return p["sku_id"]

    async def order(self, buyer: dict, shop: Shop, sku_id: str, quantity: int = 1, **extra) -> dict:
        body = {
            "shop_id": shop.shop_id,
            "items": [{"sku_id": sku_id, "quantity": quantity}],
            "shipping_address": ADDRESS,
            **extra,
        }
        order = await self.call(
            "order", "POST", "/v1/orders", {**buyer, "Idempotency-Key": rid("idem")}, json=body, expect=201
        )
        self.orders[order["order_id"]] = "CREATED"
        return order

    async def pay(self, buyer: dict, order: dict) -> dict:
        paid = await self.call(
            "order",
            "POST",
            f"/v1/orders/{order['order_id']}/pay",
            {**buyer, "Idempotency-Key": rid("idem")},
            json={"amount_fen": order["total_fen"], "method": "SANDBOX"},
        )
        assert paid["status"] in ("PAID", "AWAITING_QC_INBOUND")
        return paid

    async def get_order(self, order_id: str) -> dict:
        return await self.call("order", "GET", f"/v1/orders/{order_id}", self.admin)

    async def wait_order(self, order_id: str, status: str, timeout: float = 30.0) -> dict:
        async def probe():
            order = await self.get_order(order_id)
            return order if order["status"] == status else None

        order = await self.s.until(probe, timeout=timeout, what=f"order {order_id} {status}")
        self.orders[order_id] = status
        return order

    async def ship(self, shop: Shop, order_id: str) -> dict:
        return await self.call(
            "order",
            "POST",
            f"/v1/orders/{order_id}/shipments",
            shop.seller,
            json={"carrier": "SF", "tracking_no": rid("SF")},
            expect=201,
        )

    async def deliver(self, order_id: str) -> dict:
        """The carrier reports delivery of the parcel the order was last shipped with."""
        tracking_no = (await self.get_order(order_id))["shipment"]["tracking_no"]
        body = {"tracking_no": tracking_no, "delivered_at": datetime.now(UTC).isoformat()}
        delivered = await self.call("order", "POST", f"/v1/orders/{order_id}/delivery", self.partner, json=body)
        assert delivered["status"] == "DELIVERED"
        return delivered

    async def confirm(self, buyer: dict, order_id: str) -> dict:
        return await self.call("order", "POST", f"/v1/orders/{order_id}/confirm-receipt", buyer)

    async def balance(self, account: str) -> int:
        return (await self.call("order", "GET", f"/v1/ledger/balances/{account}", self.admin))["balance_fen"]

    # --- quality check ---------------------------------------------------------------------------------------
    async def warehouse(self, categories: list[str]) -> str:
        wh = await self.call(
            "qc",
            "POST",
            "/v1/warehouses",
            self.admin,
            json={
                "warehouse_id": rid("wh"),
                "name": "四会玉器质检中心",
                "address": "广东省四会市玉器城 8 号",
                "categories": categories,
            },
        )
        return wh["warehouse_id"]

    async def qc_case(self, order_id: str) -> dict:
        async def probe():
            page = await self.call("qc", "GET", "/v1/qc/cases", self.admin, params={"order_id": order_id})
            return page["items"][0] if page["items"] else None

        return await self.s.until(probe, what=f"qc case of {order_id}")

    def staff(self, warehouse_id: str) -> dict[str, str]:
        return self.s.token("warehouse", rid("staff"), warehouse_id=warehouse_id)

    def inspector(self, warehouse_id: str) -> dict[str, str]:
        return self.s.token("inspector", rid("inspector"), warehouse_id=warehouse_id)

    async def jade_order_at_warehouse(self, buyer: dict, shop: Shop, sku_id: str, **extra) -> tuple[dict, dict]:
        """Order, pay, wait for the QC case, ship to the warehouse, record arrival: the item is in inspection."""
        order = await self.order(buyer, shop, sku_id, **extra)
        await self.pay(buyer, order)
        await self.wait_order(order["order_id"], "AWAITING_QC_INBOUND")
        shipment = await self.ship(shop, order["order_id"])
        assert shipment["destination"] == "QC_WAREHOUSE" and shipment["address"]
        case = await self.qc_case(order["order_id"])
        await self.call(
            "qc",
            "POST",
            f"/v1/qc/cases/{case['case_id']}/arrival",
            self.staff(case["warehouse_id"]),
            json={"tracking_no": shipment["tracking_no"]},
        )
        await self.wait_order(order["order_id"], "IN_QC")
        return order, await self.call("qc", "GET", f"/v1/qc/cases/{case['case_id']}", self.admin)

    async def verdict(self, case: dict, result: str, reason: str | None = None) -> dict:
        """A pass completes the jade checklist: measurements, two uploaded photos, a seal."""
        inspector = self.inspector(case["warehouse_id"])
        body: dict[str, Any] = {
            "result": result,
            "findings": "折射率 1.66，结构致密 / RI 1.66, dense texture",
            "photos": ["https://img.example/qc/1.jpg"],
        }
        if result == "PASSED":
            photo_ids = []
            for colour in ("#2e8b57", "#3cb371"):
                buf = io.BytesIO()
                Image.new("RGB", (8, 8), colour).save(buf, "JPEG")
                files = {"file": ("qc.jpg", buf.getvalue(), "image/jpeg")}
                photo_ids.append((await self.call("qc", "POST", "/v1/evidence", inspector, files=files))["evidence_id"])
            body |= {
                "measurements": JADE_MEASUREMENTS,
                "photo_ids": photo_ids,
                "seal_id": f"SEAL-{uuid.uuid4().hex[:12].upper()}",
            }
        if reason:
            body["failure_reason"] = reason
        return await self.call("qc", "POST", f"/v1/qc/cases/{case['case_id']}/verdict", inspector, json=body)

    # --- after-sales -----------------------------------------------------------------------------------------
    async def after_sale(
        self, buyer: dict, order_id: str, type_: str, reason: str, amount_fen: int | None = None
    ) -> dict:
        body = {"order_id": order_id, "type": type_, "reason": reason, "evidence": ["https://img.example/as/1.jpg"]}
        if amount_fen is not None:
            body["amount_fen"] = amount_fen
        return await self.call(
            "refund", "POST", "/v1/after-sales", {**buyer, "Idempotency-Key": rid("idem")}, json=body, expect=201
        )

    async def refund_sees_delivery(self, buyer: dict, order_id: str) -> dict:
        """The after-sales service learns of a delivery from the order's events, a moment after the order has it."""

        async def probe():
            r = await self.s.http("refund").get(
                "/v1/after-sales/eligibility", params={"order_id": order_id}, headers=buyer
            )
            return r.json() if r.status_code == 200 and r.json().get("delivered_at") else None

        return await self.s.until(probe, what=f"the refund service seeing {order_id} delivered")

    async def wait_case(self, case_id: str, status: str, timeout: float = 30.0) -> dict:
        async def probe():
            case = await self.call("refund", "GET", f"/v1/after-sales/{case_id}", self.admin)
            return case if case["status"] == status else None

        return await self.s.until(probe, timeout=timeout, what=f"after-sale {case_id} {status}")

    async def compensations(self, order_id: str) -> list[dict]:
        return (await self.call("refund", "GET", "/v1/compensations", self.admin, params={"order_id": order_id}))[
            "items"
        ]

    async def wait_compensation(self, order_id: str, kind: str, timeout: float = 30.0) -> dict:
        async def probe():
            paid = [c for c in await self.compensations(order_id) if c["kind"] == kind and c["status"] == "PAID"]
            return paid[0] if paid else None

        return await self.s.until(probe, timeout=timeout, what=f"{kind} compensation paid on {order_id}")
