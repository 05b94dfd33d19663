"""The small world the authorization matrix runs against, built once over the public API only.

Two sides, A and B, each with a shop and its seller, a buyer, a live-stream host, a QC warehouse with its staff
and inspector, and a partner with a webhook. The matrix calls every route with side A's tokens: side A's objects
are "own", side B's are "foreign". Objects are left in states where a mutating call that passes authorization
meets a domain refusal (409/422) rather than changing anything: a COMPLETED order, a DISPATCHED (A) or
IN_INSPECTION (B) QC case, a CANCELLED after-sales case."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from .conftest import Stack
from .platform import Platform, Shop, rid

QC_PRICE = 1_200_000  # above the order service's QC value threshold: QC by value, routed by the unique category


@dataclass
class Side:
    name: str
    shop_id: str
    seller: dict[str, str]
    buyer_sub: str
    buyer: dict[str, str]
    host_sub: str
    host: dict[str, str]
    warehouse_id: str
    staff: dict[str, str]
    inspector: dict[str, str]
    partner: dict[str, str]
    address_line: str
    sku_plain: str = ""
    sku_qc: str = ""
    order_done: str = ""  # COMPLETED, sold through the host
    order_qc: str = ""  # A: QC passed and dispatched (order SHIPPED); B: in inspection
    qc_case: str = ""
    certificate_no: str | None = None
    as_case: str = ""  # CANCELLED after-sales case on order_done
    cooperation_id: str = ""  # the host's cooperation with the shop
    shop_statement: str = ""  # the shop's settlement statement of its first payout
    host_statement: str = ""  # the host's
    webhook_id: str = ""
    webhook_url: str = ""
    delivery_id: str = ""
    shop_action: str = ""  # the trust service's WARNING to the shop after a counterfeit on a live-room order
    host_action: str = ""  # its WARNING to the host of that order; appealed by the host (appeal_id, PENDING)
    appeal_id: str = ""
    notes: dict[str, str] = field(default_factory=dict)  # audience (buyer/shop/host/warehouse) -> notification id

    def token(self, role: str, admin: dict[str, str]) -> dict[str, str] | None:
        return {
            "buyer": self.buyer,
            "seller": self.seller,
            "host": self.host,
            "warehouse": self.staff,
            "inspector": self.inspector,
            "partner": self.partner,
            "admin": admin,
            "anon": None,
        }[role]

    def markers(self) -> set[str]:
        """Strings that only a response about this side's private objects can contain."""
        found = {
            self.buyer_sub,
            self.host_sub,
            self.address_line,
            self.webhook_url,
            self.order_done,
            self.order_qc,
            self.qc_case,
            self.as_case,
            self.webhook_id,
            self.delivery_id,
            *self.notes.values(),
        }
        return {m for m in found if m}

    def personal(self) -> set[str]:
        """What identifies a person or where they live: never on a public page."""
        return {self.buyer_sub, self.address_line}


@dataclass
class World:
    stack: Stack
    p: Platform
    admin: dict[str, str]
    hook_url: str
    A: Side
    B: Side
    created_webhooks: list[str] = field(default_factory=list)

    def side(self, own: bool) -> Side:
        return self.A if own else self.B

    async def fresh_webhook(self, side: Side) -> str:
        """A webhook of `side`'s partner for a destructive cell (DELETE)."""
        body = {
            "url": f"{self.hook_url}/{side.name}-{uuid.uuid4().hex[:8]}",
            "event_types": ["xinren.qc.shop_suspended"],
        }
        created = await self.p.call("notify", "POST", "/v1/webhooks", side.partner, json=body, expect=201)
        self.created_webhooks.append(created["webhook_id"])
        return created["webhook_id"]

    async def close(self) -> None:
        for webhook_id in [self.A.webhook_id, self.B.webhook_id, *self.created_webhooks]:
            if webhook_id:
                await self.stack.http("notify").delete(f"/v1/webhooks/{webhook_id}", headers=self.admin)


def _new_side(stack: Stack, name: str, shop: Shop, warehouse_id: str) -> Side:
    tag = uuid.uuid4().hex[:8]
    buyer_sub, host_sub = f"mx-buyer-{name}-{tag}", f"mx-host-{name}-{tag}"
    return Side(
        name=name,
        shop_id=shop.shop_id,
        seller=shop.seller,
        buyer_sub=buyer_sub,
        buyer=stack.token("buyer", buyer_sub),
        host_sub=host_sub,
        host=stack.token("host", host_sub),
        warehouse_id=warehouse_id,
        staff=stack.token("warehouse", f"mx-staff-{name}-{tag}", warehouse_id=warehouse_id),
        inspector=stack.token("inspector", f"mx-inspector-{name}-{tag}", warehouse_id=warehouse_id),
        partner=stack.token("partner", f"mx-partner-{name}-{tag}", shops=[shop.shop_id], carriers=["SF"]),
        address_line=f"矩阵路 {name}-{tag} 号",
    )


async def _build_side(stack: Stack, p: Platform, hook_url: str, name: str) -> Side:
    category = f"mx_{name.lower()}_{uuid.uuid4().hex[:8]}"  # only this side's warehouse inspects it
    shop = await p.shop([])
    wh = await p.call(
        "qc",
        "POST",
        "/v1/warehouses",
        p.admin,
        json={
            "warehouse_id": rid("wh"),
            "name": f"矩阵质检仓 {name}",
            "address": f"质检路 {name} 号",
            "categories": [category],
        },
        expect=201,
    )
    s = _new_side(stack, name, shop, wh["warehouse_id"])
    await p.host(shop, s.host_sub)
    cooperations = await p.call("order", "GET", f"/v1/shops/{shop.shop_id}/cooperations", shop.seller)
    s.cooperation_id = cooperations["items"][0]["cooperation_id"]
    s.sku_plain = await p.product(shop, "apparel", 9_900, stock=1_000)
    s.sku_qc = await p.product(shop, category, QC_PRICE, stock=10)
    s.webhook_url = f"{hook_url}/{name}-{uuid.uuid4().hex[:8]}"
    hook = await p.call(
        "notify",
        "POST",
        "/v1/webhooks",
        s.partner,
        json={"url": s.webhook_url, "event_types": ["xinren.order.completed"]},
        expect=201,
    )
    s.webhook_id = hook["webhook_id"]
    address = {
        "name": f"买家{name}",
        "phone": "+86 139 0000 0000",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "line1": s.address_line,
    }

    async def done_order() -> str:
        order = await p.order(
            s.buyer, shop, s.sku_plain, host_id=s.host_sub, live_room_id=rid("room"), shipping_address=address
        )
        await p.pay(s.buyer, order)
        await p.ship(shop, order["order_id"])
        await p.deliver(order["order_id"])
        assert (await p.confirm(s.buyer, order["order_id"]))["status"] == "COMPLETED"
        return order["order_id"]

    async def qc_order() -> tuple[str, dict]:
        order, case = await p.jade_order_at_warehouse(s.buyer, shop, s.sku_qc, shipping_address=address)
        assert case["warehouse_id"] == s.warehouse_id, case
        if name == "A":
            passed = await p.verdict(case, "PASSED")
            s.certificate_no = passed["certificate_no"]
            await p.wait_order(order["order_id"], "QC_PASSED")
            await p.call(
                "qc",
                "POST",
                f"/v1/qc/cases/{case['case_id']}/dispatch",
                p.staff(s.warehouse_id),
                json={"carrier": "SF", "tracking_no": rid("SF")},
            )
            await p.wait_order(order["order_id"], "SHIPPED")
        return order["order_id"], case

    async def enforced() -> None:
        """A counterfeit on a live-room order: the trust service warns the shop and the host; the host appeals its
        warning (the appeal the deciding rows decide), the shop's stays ACTIVE (the one the filing rows appeal)."""
        order, case = await p.jade_order_at_warehouse(
            s.buyer, shop, s.sku_qc, host_id=s.host_sub, live_room_id=rid("room"), shipping_address=address
        )
        await p.verdict(case, "FAILED", "COUNTERFEIT")

        async def warnings() -> dict[str, str] | None:
            page = await p.call("trust", "GET", "/v1/trust/actions", p.admin, params={"shop_id": shop.shop_id})
            found = {a["subject_kind"]: a["action_id"] for a in page["items"] if a["order_id"] == order["order_id"]}
            return found if {"SHOP", "HOST"} <= set(found) else None

        found = await stack.until(warnings, what=f"the trust service's warnings to {name}'s shop and host")
        s.shop_action, s.host_action = found["SHOP"], found["HOST"]
        appeal = {"action_id": s.host_action, "reason": "矩阵申诉"}
        s.appeal_id = (await p.call("trust", "POST", "/v1/trust/appeals", s.host, json=appeal, expect=201))["appeal_id"]

    s.order_done, (s.order_qc, case), _ = await asyncio.gather(done_order(), qc_order(), enforced())
    s.qc_case = case["case_id"]

    # An after-sales case, withdrawn at once: every later command on it is a domain refusal, never a change.
    await p.refund_sees_delivery(s.buyer, s.order_done)
    opened = await p.after_sale(s.buyer, s.order_done, "REFUND_ONLY", "QUALITY_ISSUE", amount_fen=100)
    s.as_case = opened["case_id"]
    cancelled = await p.call(
        "refund", "POST", f"/v1/after-sales/{s.as_case}/cancel", s.buyer, json={"reason": "matrix"}
    )
    assert cancelled["status"] == "CANCELLED", cancelled

    async def first_note(token: dict[str, str]) -> str | None:
        page = await p.call("notify", "GET", "/v1/notifications", token, params={"limit": 200})
        return page["items"][-1]["notification_id"] if page["items"] else None

    for audience, token in (("buyer", s.buyer), ("shop", s.seller), ("host", s.host), ("warehouse", s.staff)):
        s.notes[audience] = await stack.until(
            lambda t=token: first_note(t), what=f"a notification in {name}'s {audience} inbox"
        )

    async def a_delivery() -> str | None:
        page = await p.call("notify", "GET", f"/v1/webhooks/{s.webhook_id}/deliveries", s.partner)
        return page["items"][-1]["delivery_id"] if page["items"] else None

    s.delivery_id = await stack.until(a_delivery, what=f"a delivery to {name}'s webhook")
    return s


async def build_world(stack: Stack, hook_url: str) -> World:
    p = Platform(stack)  # its own instance: these orders are not the scenarios' (see test_z_final_state)
    a, b = await asyncio.gather(_build_side(stack, p, hook_url, "A"), _build_side(stack, p, hook_url, "B"))
    await _pay_out(stack, p, a, b)
    return World(stack, p, p.admin, hook_url, a, b)


async def _pay_out(stack: Stack, p: Platform, *sides: Side) -> None:
    """Once each side's held shares are available (the e2e hold is seconds), one payout run gives each shop and
    host a statement."""
    for s in sides:

        async def available(s: Side = s) -> bool | None:
            balances = await p.call("order", "GET", f"/v1/shops/{s.shop_id}/balances", p.admin)
            return balances["available_fen"] > 0 or None

        await stack.until(available, timeout=45, what=f"side {s.name}'s shares available")
    await p.call("order", "POST", "/v1/payouts/run", p.admin)
    for s in sides:
        shop = await p.call("order", "GET", f"/v1/shops/{s.shop_id}/statements", p.admin)
        host = await p.call("order", "GET", f"/v1/hosts/{s.host_sub}/statements", p.admin)
        s.shop_statement, s.host_statement = shop["items"][0]["statement_id"], host["items"][0]["statement_id"]


def request_text(path: str, params: dict[str, Any] | None, body: Any) -> str:
    return f"{path} {params or ''} {body or ''}"
