"""The quality-check warehouse across services, over HTTP only: a certified item returned with a broken seal is
checked at the warehouse and its refund goes to the platform's arbitration; the certificate stays public with its
seal, measurements and photos."""

import io

from PIL import Image

from .platform import JADE_MEASUREMENTS, rid

JADE_PRICE = 600_000


async def test_a_certified_return_with_a_broken_seal_goes_to_arbitration(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop(["SEVEN_DAY_RETURN"])
    sku = await p.product(shop, "jade", JADE_PRICE)
    buyer = p.buyer()
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    order_id, cid, wid = order["order_id"], case["case_id"], case["warehouse_id"]

    passed = await p.verdict(case, "PASSED")
    seal = passed["verdict"]["seal_id"]
    cert = await p.call("qc", "GET", f"/v1/certificates/{passed['certificate_no'].lower()}", {})
    assert cert["status"] == "VALID" and cert["seal_id"] == seal and cert["measurements"]["weight_g"] == 41.2
    assert cert["qr"].endswith(passed["certificate_no"]) and any(x.startswith("/v1/evidence/") for x in cert["photos"])
    await p.call(
        "qc", "POST", f"/v1/qc/cases/{cid}/dispatch", p.staff(wid), json={"carrier": "SF", "tracking_no": rid("SF")}
    )
    await p.wait_order(order_id, "SHIPPED")
    await p.deliver(order_id)
    p.orders[order_id] = "DELIVERED"
    await p.refund_sees_delivery(buyer, order_id)

    aftersale = await p.after_sale(buyer, order_id, "RETURN_AND_REFUND", "NO_REASON_7D")
    asid = aftersale["case_id"]
    if aftersale["status"] == "REQUESTED":
        await p.call("refund", "POST", f"/v1/after-sales/{asid}/approve", shop.seller, json={"reason": "ok"})
    ship = {"carrier": "SF", "tracking_no": rid("SF")}
    await p.call("refund", "POST", f"/v1/after-sales/{asid}/return-shipment", buyer, json=ship)

    async def expected():
        c = await p.call("qc", "GET", f"/v1/qc/cases/{cid}", p.admin)
        return c if any(r["aftersale_case_id"] == asid for r in c["returns"]) else None

    await p.s.until(expected, what="the warehouse expecting the return")
    check = {"seal_id": seal, "seal_intact": False, "measurements": JADE_MEASUREMENTS, "findings": "tag torn"}
    checked = await p.call("qc", "POST", f"/v1/qc/cases/{cid}/return-check", p.staff(wid), json=check)
    assert checked["returns"][0]["status"] == "SEAL_BROKEN"

    async def arbitrated():
        c = await p.call("refund", "GET", f"/v1/after-sales/{asid}", buyer)
        return c if c["status"] == "ARBITRATION" else None

    await p.s.until(arbitrated, what="the refund case going to arbitration")


async def test_an_appeal_is_decided_by_another_inspector_and_only_then_published(platform, stack):
    p = platform
    await p.warehouse(["jade"])
    shop = await p.shop([])
    sku = await p.product(shop, "jade", JADE_PRICE)
    buyer = p.buyer()
    order, case = await p.jade_order_at_warehouse(buyer, shop, sku)
    cid, wid = case["case_id"], case["warehouse_id"]
    first = p.inspector(wid)
    failed = {"result": "FAILED", "failure_reason": "NOT_AS_DESCRIBED", "findings": "colour dyed"}
    await p.call("qc", "POST", f"/v1/qc/cases/{cid}/verdict", first, json=failed)
    appealed = await p.call("qc", "POST", f"/v1/qc/cases/{cid}/appeal", shop.seller, json={"reason": "natural colour"})
    assert appealed["status"] == "APPEALED"
    await p.call("qc", "POST", f"/v1/qc/cases/{cid}/review", first, json=failed, expect=403)
    second = p.inspector(wid)
    photo_ids = []
    for colour in ("#114411", "#226622"):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), colour).save(buf, "JPEG")
        up = await p.call("qc", "POST", "/v1/evidence", second, files={"file": ("r.jpg", buf.getvalue(), "image/jpeg")})
        photo_ids.append(up["evidence_id"])
    review = {
        "result": "PASSED",
        "findings": "natural colour under the Chelsea filter",
        "measurements": JADE_MEASUREMENTS,
        "photo_ids": photo_ids,
        "seal_id": f"SEAL-{rid('S').upper().replace('_', '-')}",
    }
    reviewed = await p.call("qc", "POST", f"/v1/qc/cases/{cid}/review", second, json=review)
    assert reviewed["status"] == "PASSED" and reviewed["appeal"]["status"] == "OVERTURNED"
    # The order never saw the first failure: it goes on to the buyer.
    await p.wait_order(order["order_id"], "QC_PASSED")
