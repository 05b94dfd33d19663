"""A certified item's return goes back through the quality-check warehouse: the approved case names the warehouse's
address, the seller cannot release the refund by confirming receipt, and the warehouse's check does."""

from xinren_shared.contracts.qc import QcCaseOpened, QcReturnChecked
from xinren_shared.contracts.vocabulary import TrustRight as TR

from ..support import ADMIN, QC_SOURCE, case_reaches, command, eventually, open_case, seller_headers
from .test_certified_counterfeit import _certified_order

WAREHOUSE = "云南省瑞丽市姐告路 1 号 质检仓"


async def test_a_certified_return_is_released_by_the_warehouse_check_not_the_seller(refund, publish):
    order, certificate_no = await _certified_order(refund, publish, rights=[TR.SEVEN_DAY_RETURN], delivered_days_ago=1)
    [opened] = await publish(
        QcCaseOpened(
            order_id=order.order_id, case_id=f"qc_{order.order_id}", buyer_id=order.buyer_id, shop_id=order.shop_id,
            warehouse_id="wh_sihui", warehouse_address=WAREHOUSE, inbound_deadline="2026-12-01T00:00:00Z",
        ),
        source=QC_SOURCE,
    )  # fmt: skip
    await eventually(lambda: refund.handled(opened.id), what="qc.case_opened handled")
    case = await open_case(refund, order, type="RETURN_AND_REFUND", reason="NO_REASON_7D")
    cid = case["case_id"]
    seller = seller_headers(order.shop_id)
    await command(refund, cid, "approve", seller, body={"reason": "同意"})
    approved = await case_reaches(refund, cid, "AWAITING_RETURN")
    assert approved["return_via_warehouse"] == WAREHOUSE and approved["return_address"] is None
    await command(refund, cid, "return-shipment", order.buyer, body={"carrier": "SF", "tracking_no": "SF777"})

    refused = await refund.client.post(f"/v1/after-sales/{cid}/return-received", headers=seller, json={})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "RETURN_AWAITS_WAREHOUSE_CHECK"
    assert (await case_reaches(refund, cid, "RETURN_SHIPPED"))["status"] == "RETURN_SHIPPED"

    await publish(
        QcReturnChecked(
            order_id=order.order_id, case_id=f"qc_{order.order_id}", aftersale_case_id=cid,
            certificate_no=certificate_no, outcome="VERIFIED", seal_intact=True,
        ),
        source=QC_SOURCE,
    )  # fmt: skip
    await case_reaches(refund, cid, "REFUNDING")
    r = await refund.client.get(f"/v1/after-sales/{cid}", headers=ADMIN)
    assert "verified at the quality-check warehouse" in str(r.json()["timeline"])
