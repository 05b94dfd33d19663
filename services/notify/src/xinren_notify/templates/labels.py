"""Codes as words in the texts: one table per field name, (Chinese, English); values not listed are shown as
they are."""

from __future__ import annotations

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "reason": {
        "COUNTERFEIT": ("假货", "counterfeit"),
        "NOT_AS_DESCRIBED": ("与描述不符", "not as described"),
        "DAMAGED": ("商品损坏", "damaged"),
        "NO_REASON_7D": ("七天无理由", "7-day no-reason return"),
        "QUALITY_ISSUE": ("质量问题", "quality issue"),
        "NOT_RECEIVED": ("未收到货", "not received"),
        "OTHER": ("其他", "other"),
        "MISSING_PARTS": ("少件/漏发", "missing parts"),
        "QC_FAILED": ("质检未通过", "failed quality check"),
        "QC_EXPIRED": ("送检超时", "quality-check deadline missed"),
        "CANCELLED_BEFORE_SHIPMENT": ("发货前取消", "cancelled before shipment"),
    },
    "type": {
        "REFUND_ONLY": ("仅退款", "refund-only"),
        "RETURN_AND_REFUND": ("退货退款", "return-and-refund"),
        "EXCHANGE": ("换货", "exchange"),
        "RESHIP": ("补寄", "reship"),
    },
    "offer_type": {
        "REFUND_ONLY": ("仅退款", "refund-only"),
        "RETURN_AND_REFUND": ("退货退款", "return-and-refund"),
        "EXCHANGE": ("换货", "exchange"),
        "RESHIP": ("补寄", "reship"),
    },
    "kind": {
        "COUNTERFEIT": ("假货", "counterfeit"),
        "RETURN_SHIPPING": ("退货运费", "return-shipping"),
        "LATE_SHIPMENT": ("发货超时", "late-shipment"),
    },
    "failure_reason": {
        "COUNTERFEIT": ("假货", "counterfeit"),
        "NOT_AS_DESCRIBED": ("与描述不符", "not as described"),
        "DAMAGED": ("商品损坏", "damaged"),
    },
    "outcome": {  # a replacement's inspection (return checks show their own codes)
        "PASSED": ("通过", "passed"),
        "FAILED": ("未通过", "failed"),
    },
    "status": {
        "REQUESTED": ("待处理", "requested"),
        "APPROVED": ("已同意", "approved"),
        "REJECTED": ("已拒绝", "rejected"),
        "ARBITRATION": ("平台仲裁中", "in arbitration"),
        "AWAITING_RETURN": ("待退货", "awaiting return"),
        "RETURN_SHIPPED": ("退货已寄出", "return shipped"),
        "RETURN_RECEIVED": ("退货已收到", "return received"),
        "REFUNDING": ("退款中", "refunding"),
        "REFUNDED": ("已退款", "refunded"),
        "CLOSED": ("已关闭", "closed"),
        "CANCELLED": ("买家已撤销", "cancelled by the buyer"),
        "OFFERED": ("待买家确认协商方案", "counter-offer awaiting the buyer"),
        "AWAITING_EVIDENCE": ("待买家补充举证", "awaiting more evidence"),
        "AWAITING_REPLACEMENT": ("待商家发出换货/补寄", "awaiting the replacement"),
        "REPLACEMENT_INSPECTING": ("换货/补寄质检中", "replacement at the quality-check warehouse"),
        "REPLACEMENT_SHIPPED": ("换货/补寄已发出", "replacement shipped"),
        "COMPLETED": ("售后完成", "completed"),
    },
}
