"""Notification texts per event type and audience: Chinese first, English as the fallback. Pure, no I/O.

A template's placeholders are the event's fields, with `*_fen` amounts also given without the suffix as yuan
(`paid_fen` -> `{paid}` = "¥1,280.00"), times in Beijing time (zh) or UTC (en), codes as words, and `{item}` as the
first item's title. A placeholder the event lacks renders empty: a text never fails an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .domain import Audience

B, S, H, W = Audience.BUYER, Audience.SHOP, Audience.HOST, Audience.WAREHOUSE
BEIJING = timezone(timedelta(hours=8))

# Fields copied into a notification's `data` so an app can link to the order, the case, the certificate.
LINK_FIELDS = (
    "order_id",
    "case_id",
    "refund_id",
    "compensation_id",
    "certificate_no",
    "carrier",
    "tracking_no",
    "warehouse_id",
    "shop_id",
)


@dataclass(frozen=True)
class Template:
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str


@dataclass(frozen=True)
class Text:
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str


T = Template

# Event types whose texts depend on one field: TEMPLATES["<type>[<field>=<value>]"] wins over TEMPLATES["<type>"].
VARIANT_FIELDS = {
    "xinren.order.paid": "qc_required",
    "xinren.order.cancelled": "was_paid",
    "xinren.order.shipped": "destination",
    "xinren.order.compensation_paid": "payer",
    "xinren.qc.dispatched": "to",
    "xinren.aftersale.approved": "type",
    "xinren.compensation.granted": "payer",
}

TEMPLATES: dict[str, dict[Audience, Template]] = {
    # ---- xinren.orders.v1
    "xinren.order.created": {
        B: T(
            "订单已提交",
            "您的订单 {order_id}（{item}）已创建，合计 {total}，请尽快付款。",
            "Order placed",
            "Your order {order_id} ({item}) was created, total {total}. Please pay soon.",
        ),
        S: T(
            "新订单待付款",
            "买家下单 {item}，订单 {order_id}，合计 {total}，等待买家付款。",
            "New order awaiting payment",
            "A buyer ordered {item} (order {order_id}, total {total}); payment pending.",
        ),
        H: T(
            "直播间新订单",
            "您带货的 {item} 有新订单 {order_id}，合计 {total}。",
            "New order from your live room",
            "New order {order_id} for {item} that you presented, total {total}.",
        ),
    },
    "xinren.order.paid": {
        B: T(
            "支付成功",
            "订单 {order_id} 已支付 {paid}，等待卖家发货。",
            "Payment received",
            "You paid {paid} for order {order_id}; the seller will ship it soon.",
        ),
        S: T(
            "新订单已付款",
            "订单 {order_id}（{item}）已付款 {paid}，请及时发货。",
            "New paid order",
            "Order {order_id} ({item}) was paid {paid}. Please ship it promptly.",
        ),
        H: T(
            "成交提醒",
            "您带货的订单 {order_id} 已付款 {paid}。",
            "Sale made",
            "Order {order_id} that you presented was paid {paid}.",
        ),
    },
    "xinren.order.paid[qc_required=true]": {
        B: T(
            "支付成功",
            "订单 {order_id} 已支付 {paid}。商品将先送往质检仓验货，验真后再发给您。",
            "Payment received",
            "You paid {paid} for order {order_id}. The item goes to a quality-check warehouse "
            "first and is shipped to you once it is verified genuine.",
        ),
        S: T(
            "新订单已付款（需质检）",
            "订单 {order_id}（{item}）已付款 {paid}。该订单需先送检，质检仓地址稍后通知。",
            "New paid order (quality check)",
            "Order {order_id} ({item}) was paid {paid}. It must go to a "
            "quality-check warehouse first; you will be told where.",
        ),
        H: T(
            "成交提醒",
            "您带货的订单 {order_id} 已付款 {paid}。",
            "Sale made",
            "Order {order_id} that you presented was paid {paid}.",
        ),
    },
    "xinren.order.cancelled": {
        B: T(
            "订单已取消",
            "订单 {order_id} 已取消（{reason}）。",
            "Order cancelled",
            "Order {order_id} was cancelled ({reason}).",
        ),
        S: T(
            "订单已取消",
            "订单 {order_id} 已取消（{reason}）。",
            "Order cancelled",
            "Order {order_id} was cancelled ({reason}).",
        ),
    },
    "xinren.order.cancelled[was_paid=true]": {
        B: T(
            "订单已取消",
            "订单 {order_id} 已取消（{reason}），已付款项将全额原路退回。",
            "Order cancelled",
            "Order {order_id} was cancelled ({reason}); what you paid will be refunded in full.",
        ),
        S: T(
            "已付款订单被取消",
            "订单 {order_id} 已取消（{reason}），将向买家全额退款，请勿发货。",
            "Paid order cancelled",
            "Order {order_id} was cancelled ({reason}) and will be refunded in full. Do not ship it.",
        ),
    },
    "xinren.order.shipped": {
        B: T(
            "卖家已发货",
            "订单 {order_id} 已由 {carrier} 发出，运单号 {tracking_no}。",
            "Your order has shipped",
            "Order {order_id} shipped with {carrier}, tracking number {tracking_no}.",
        ),
    },
    "xinren.order.shipped[destination=QC_WAREHOUSE]": {
        B: T(
            "商品已送往质检仓",
            "订单 {order_id} 的商品已寄往质检仓（{carrier} {tracking_no}），验货通过后再发给您。",
            "Sent for quality check",
            "The item of order {order_id} is on its way to the quality-check warehouse "
            "({carrier} {tracking_no}); it is shipped to you once it passes.",
        ),
        W: T(
            "待入库包裹",
            "订单 {order_id} 的商品已发往本仓（{carrier} {tracking_no}），请留意签收。",
            "Inbound parcel",
            "The item of order {order_id} is on its way to your warehouse ({carrier} {tracking_no}).",
        ),
    },
    "xinren.order.delivered": {
        B: T(
            "包裹已签收",
            "订单 {order_id} 已签收。确认无误后请确认收货，如有问题可申请售后。",
            "Delivered",
            "Order {order_id} was delivered. Please confirm receipt, or open an after-sales case.",
        ),
        S: T(
            "买家已签收",
            "订单 {order_id} 已送达买家。",
            "Delivered to the buyer",
            "Order {order_id} was delivered to the buyer.",
        ),
    },
    "xinren.order.completed": {
        B: T(
            "交易完成",
            "订单 {order_id} 已完成，感谢您的购买。",
            "Order completed",
            "Order {order_id} is complete. Thank you for your purchase.",
        ),
        S: T(
            "货款已结算",
            "订单 {order_id} 已完成，{seller} 已结算到店铺余额。",
            "Order settled",
            "Order {order_id} is complete; {seller} was credited to your shop balance.",
        ),
        H: T(
            "佣金已到账",
            "订单 {order_id} 已完成，您获得佣金 {host}。",
            "Commission earned",
            "Order {order_id} is complete; you earned a commission of {host}.",
        ),
    },
    "xinren.order.shipping_late": {
        B: T(
            "发货超时",
            "订单 {order_id} 未能在承诺时间 {promised_by} 前发货，平台将按极速发货承诺给予您赔付。",
            "Late shipment",
            "Order {order_id} did not ship by the promised {promised_by}; you will be compensated "
            "as the fast-shipping promise says.",
        ),
        S: T(
            "发货超时提醒",
            "订单 {order_id} 已超过承诺发货时间 {promised_by}，将从保证金赔付买家，请尽快发货。",
            "Shipment overdue",
            "Order {order_id} missed the promised shipping time {promised_by}; the buyer is "
            "compensated from your deposit. Please ship it now.",
        ),
    },
    "xinren.order.refunded": {
        B: T(
            "退款已到账",
            "订单 {order_id} 已退款 {amount}（累计退款 {refunded_total}），将原路退回。",
            "Refund paid",
            "Order {order_id} was refunded {amount} (in total {refunded_total}).",
        ),
        S: T(
            "订单已退款",
            "订单 {order_id} 已向买家退款 {amount}（累计 {refunded_total}）。",
            "Order refunded",
            "Order {order_id} was refunded {amount} to the buyer (in total {refunded_total}).",
        ),
    },
    "xinren.order.refund_rejected": {
        B: T(
            "退款未能完成",
            "订单 {order_id} 的退款 {amount} 超过可退金额 {refundable}，未能执行，客服将跟进处理。",
            "Refund not made",
            "The refund of {amount} on order {order_id} exceeds the refundable {refundable} and "
            "was not made; customer service will follow up.",
        ),
        S: T(
            "退款未执行",
            "订单 {order_id} 的退款 {amount} 超过可退金额 {refundable}，未执行。",
            "Refund not made",
            "The refund of {amount} on order {order_id} exceeds the refundable {refundable} and was not made.",
        ),
    },
    "xinren.order.compensation_paid": {
        B: T(
            "赔付已到账",
            "订单 {order_id} 的{kind}赔付 {amount} 已到账。",
            "Compensation paid",
            "The {kind} compensation of {amount} on order {order_id} was paid to you.",
        ),
    },
    "xinren.order.compensation_paid[payer=SHOP_DEPOSIT]": {
        B: T(
            "赔付已到账",
            "订单 {order_id} 的{kind}赔付 {amount} 已到账。",
            "Compensation paid",
            "The {kind} compensation of {amount} on order {order_id} was paid to you.",
        ),
        S: T(
            "保证金已赔付",
            "订单 {order_id} 的{kind}赔付 {amount} 已从店铺保证金支付。",
            "Deposit charged",
            "The {kind} compensation of {amount} on order {order_id} was paid from your deposit.",
        ),
    },
    # ---- xinren.qc.v1
    "xinren.qc.case_opened": {
        B: T(
            "商品将先验后发",
            "订单 {order_id} 的商品将先送往质检仓验货，验真后再发给您。",
            "Quality check first",
            "The item of order {order_id} is checked at a quality-check warehouse before it is shipped to you.",
        ),
        S: T(
            "请寄往质检仓",
            "订单 {order_id} 需先送检：请在 {inbound_deadline} 前寄到 {warehouse_address}。",
            "Ship to the quality-check warehouse",
            "Order {order_id} must be checked first: ship it to {warehouse_address} by {inbound_deadline}.",
        ),
        W: T(
            "新质检单",
            "订单 {order_id} 的质检单 {case_id} 已建立，卖家需在 {inbound_deadline} 前寄到。",
            "New inspection case",
            "Inspection case {case_id} for order {order_id} is open; the seller must ship by {inbound_deadline}.",
        ),
    },
    "xinren.qc.item_received": {
        B: T(
            "质检仓已收货",
            "订单 {order_id} 的商品已到达质检仓，正在验货。",
            "Arrived for inspection",
            "The item of order {order_id} arrived at the quality-check warehouse.",
        ),
        S: T(
            "质检仓已签收",
            "订单 {order_id} 的商品已被质检仓签收。",
            "Received by the warehouse",
            "The quality-check warehouse received the item of order {order_id}.",
        ),
    },
    "xinren.qc.passed": {
        B: T(
            "质检通过",
            "好消息！订单 {order_id} 的商品已通过质检，证书编号 {certificate_no}，即将发货给您。",
            "Quality check passed",
            "Good news: the item of order {order_id} passed the quality check "
            "(certificate {certificate_no}) and will be shipped to you.",
        ),
        S: T(
            "质检通过",
            "订单 {order_id} 的商品已通过质检（证书编号 {certificate_no}），将由质检仓发给买家。",
            "Quality check passed",
            "The item of order {order_id} passed (certificate {certificate_no}); the warehouse ships it to the buyer.",
        ),
    },
    "xinren.qc.failed": {
        B: T(
            "质检未通过",
            "订单 {order_id} 的商品未通过质检（{reason}），将为您全额退款。",
            "Quality check failed",
            "The item of order {order_id} failed the quality check ({reason}); you will be refunded in full.",
        ),
        S: T(
            "质检未通过",
            "订单 {order_id} 的商品未通过质检（{reason}）：{findings}。商品将退回店铺。",
            "Quality check failed",
            "The item of order {order_id} failed ({reason}): {findings}. It is sent back to you.",
        ),
    },
    "xinren.qc.dispatched": {
        B: T(
            "已从质检仓发货",
            "订单 {order_id} 已从质检仓发出（{carrier} {tracking_no}）。",
            "Shipped from the warehouse",
            "Order {order_id} left the quality-check warehouse ({carrier} {tracking_no}).",
        ),
        S: T(
            "质检仓已发货",
            "订单 {order_id} 已由质检仓发给买家（{carrier} {tracking_no}）。",
            "Shipped to the buyer",
            "The warehouse shipped order {order_id} to the buyer ({carrier} {tracking_no}).",
        ),
    },
    "xinren.qc.dispatched[to=SELLER]": {
        S: T(
            "商品退回中",
            "订单 {order_id} 未通过质检的商品已寄回店铺（{carrier} {tracking_no}）。",
            "Item returned to you",
            "The failed item of order {order_id} is on its way back to you ({carrier} {tracking_no}).",
        ),
    },
    "xinren.qc.expired": {
        B: T(
            "送检超时",
            "卖家未按时将订单 {order_id} 的商品寄到质检仓，将为您全额退款。",
            "Not sent for inspection",
            "The seller did not get the item of order {order_id} to the warehouse in "
            "time; you will be refunded in full.",
        ),
        S: T(
            "送检超时",
            "订单 {order_id} 未在期限内寄到质检仓，订单将全额退款并记录违规。",
            "Inspection deadline missed",
            "Order {order_id} did not reach the warehouse in time; it is refunded in full and a strike is recorded.",
        ),
        W: T(
            "质检单已过期",
            "质检单 {case_id}（订单 {order_id}）已超过入库期限。",
            "Inspection case expired",
            "Inspection case {case_id} (order {order_id}) passed its inbound deadline.",
        ),
    },
    "xinren.qc.shop_suspended": {
        S: T(
            "店铺已暂停接单",
            "因累计 {strikes} 次质检违规，店铺已被暂停接单。",
            "Shop suspended",
            "After {strikes} quality-check strikes your shop can no longer take orders.",
        ),
    },
    # ---- xinren.aftersales.v1
    "xinren.aftersale.requested": {
        B: T(
            "售后申请已提交",
            "订单 {order_id} 的{type}申请（{amount}）已提交，等待商家处理。",
            "After-sales request sent",
            "Your {type} request ({amount}) on order {order_id} was sent to the seller.",
        ),
        S: T(
            "新售后申请",
            "订单 {order_id} 有新的{type}申请（{reason}，{amount}），请及时处理，逾期将自动同意。",
            "New after-sales request",
            "New {type} request on order {order_id} ({reason}, {amount}). Please review "
            "it in time, or it is approved automatically.",
        ),
    },
    "xinren.aftersale.approved": {
        B: T(
            "售后已同意",
            "订单 {order_id} 的售后申请已同意，退款 {amount} 处理中。",
            "After-sales approved",
            "Your request on order {order_id} was approved; the refund of {amount} is on its way.",
        ),
        S: T(
            "售后已同意",
            "订单 {order_id} 的售后申请 {case_id} 已同意。",
            "After-sales approved",
            "After-sales case {case_id} on order {order_id} was approved.",
        ),
    },
    "xinren.aftersale.approved[type=RETURN_AND_REFUND]": {
        B: T(
            "退货申请已同意",
            "订单 {order_id} 的退货退款申请已同意，请寄回商品并填写运单号。",
            "Return approved",
            "Your return on order {order_id} was approved: please send the item back and enter the tracking number.",
        ),
        S: T(
            "售后已同意",
            "订单 {order_id} 的退货退款申请 {case_id} 已同意，请留意买家寄回的商品。",
            "Return approved",
            "Return case {case_id} on order {order_id} was approved; watch for the returned item.",
        ),
    },
    "xinren.aftersale.rejected": {
        B: T(
            "售后申请被拒绝",
            "订单 {order_id} 的售后申请被商家拒绝，您可以申请平台介入。",
            "After-sales rejected",
            "The seller rejected your request on order {order_id}; you may ask the platform to arbitrate.",
        ),
        S: T(
            "已拒绝售后",
            "订单 {order_id} 的售后申请 {case_id} 已拒绝。",
            "After-sales rejected",
            "After-sales case {case_id} on order {order_id} was rejected.",
        ),
    },
    "xinren.aftersale.escalated": {
        B: T(
            "平台已介入",
            "订单 {order_id} 的售后已提交平台仲裁，请耐心等待结果。",
            "Platform arbitration",
            "Your case on order {order_id} went to platform arbitration.",
        ),
        S: T(
            "买家申请平台介入",
            "订单 {order_id} 的售后 {case_id} 已进入平台仲裁。",
            "Arbitration requested",
            "After-sales case {case_id} on order {order_id} went to platform arbitration.",
        ),
    },
    "xinren.aftersale.return_shipped": {
        B: T(
            "退货已寄出",
            "订单 {order_id} 的退货已寄出，等待商家签收。",
            "Return sent",
            "Your return for order {order_id} is on its way to the seller.",
        ),
        S: T(
            "买家已寄回商品",
            "订单 {order_id} 的退货已寄出，收到后请确认，逾期将自动退款。",
            "Return on its way",
            "The buyer sent back the item of order {order_id}; confirm receipt in time or the "
            "refund is made automatically.",
        ),
    },
    "xinren.aftersale.return_received": {
        B: T(
            "商家已收到退货",
            "商家已收到订单 {order_id} 的退货，将为您退款 {amount}。",
            "Return received",
            "The seller received your return for order {order_id}; {amount} will be refunded.",
        ),
        S: T(
            "已确认收到退货",
            "订单 {order_id} 的退货已确认收到，将退款 {amount}。",
            "Return received",
            "You confirmed the return for order {order_id}; {amount} will be refunded.",
        ),
    },
    "xinren.aftersale.refunded": {
        B: T(
            "售后退款完成",
            "订单 {order_id} 的售后退款 {amount} 已完成。",
            "After-sales refund done",
            "The after-sales refund of {amount} on order {order_id} is done.",
        ),
        S: T(
            "售后已退款",
            "订单 {order_id} 的售后 {case_id} 已退款 {amount}。",
            "After-sales refunded",
            "After-sales case {case_id} on order {order_id} refunded {amount}.",
        ),
    },
    "xinren.aftersale.closed": {
        B: T(
            "售后已关闭",
            "订单 {order_id} 的售后申请已关闭（{status}）。",
            "After-sales closed",
            "Your after-sales case on order {order_id} is closed ({status}).",
        ),
        S: T(
            "售后已关闭",
            "订单 {order_id} 的售后 {case_id} 已关闭（{status}）。",
            "After-sales closed",
            "After-sales case {case_id} on order {order_id} is closed ({status}).",
        ),
    },
    "xinren.refund.requested": {
        B: T(
            "退款处理中",
            "订单 {order_id} 的退款 {amount} 正在处理，将原路退回。",
            "Refund in progress",
            "The refund of {amount} on order {order_id} is being processed.",
        ),
    },
    "xinren.compensation.granted": {
        B: T(
            "获得赔付",
            "订单 {order_id} 获得{kind}赔付 {amount}，即将到账。",
            "Compensation granted",
            "You are granted a {kind} compensation of {amount} on order {order_id}.",
        ),
    },
    "xinren.compensation.granted[payer=SHOP_DEPOSIT]": {
        B: T(
            "获得赔付",
            "订单 {order_id} 获得{kind}赔付 {amount}，即将到账。",
            "Compensation granted",
            "You are granted a {kind} compensation of {amount} on order {order_id}.",
        ),
        S: T(
            "保证金赔付通知",
            "订单 {order_id} 产生{kind}赔付 {amount}，将从店铺保证金支付。",
            "Compensation from your deposit",
            "A {kind} compensation of {amount} on order {order_id} is paid from your deposit.",
        ),
    },
}

# Codes as words. One table per field name; values not listed are shown as they are.
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "reason": {
        "COUNTERFEIT": ("假货", "counterfeit"),
        "NOT_AS_DESCRIBED": ("与描述不符", "not as described"),
        "DAMAGED": ("商品损坏", "damaged"),
        "NO_REASON_7D": ("七天无理由", "7-day no-reason return"),
        "QUALITY_ISSUE": ("质量问题", "quality issue"),
        "NOT_RECEIVED": ("未收到货", "not received"),
        "OTHER": ("其他", "other"),
        "QC_FAILED": ("质检未通过", "failed quality check"),
        "QC_EXPIRED": ("送检超时", "quality-check deadline missed"),
        "CANCELLED_BEFORE_SHIPMENT": ("发货前取消", "cancelled before shipment"),
    },
    "type": {
        "REFUND_ONLY": ("仅退款", "refund-only"),
        "RETURN_AND_REFUND": ("退货退款", "return-and-refund"),
    },
    "kind": {
        "COUNTERFEIT": ("假货", "counterfeit"),
        "RETURN_SHIPPING": ("退货运费", "return-shipping"),
        "LATE_SHIPMENT": ("发货超时", "late-shipment"),
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
    },
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def _when(value: Any, zh: bool) -> str:
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if zh:
        return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M（北京时间）")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def context(data: dict[str, Any], *, zh: bool) -> dict[str, str]:
    ctx: dict[str, str] = _Blank()
    for key, value in data.items():
        if isinstance(value, bool) or value is None:
            ctx[key] = _plain(value)
        elif key.endswith("_fen") and isinstance(value, int):
            ctx[key] = str(value)
            ctx[key[: -len("_fen")]] = yuan(value)
        elif key.endswith(("_at", "_deadline", "_by")) or key in ("inbound_deadline", "promised_by"):
            ctx[key] = _when(value, zh)
        elif key in LABELS and isinstance(value, str):
            label = LABELS[key].get(value)
            ctx[key] = (label[0] if zh else label[1]) if label else value
        elif isinstance(value, (str, int, float)):
            ctx[key] = str(value)
    items = data.get("items")
    if isinstance(items, list) and items and isinstance(items[0], dict):
        first = str(items[0].get("title", ""))
        more = len(items) - 1
        ctx["item"] = first if not more else (f"{first} 等{len(items)}件商品" if zh else f"{first} and {more} more")
    return ctx


def templates_for(type_: str, data: dict[str, Any]) -> dict[Audience, Template]:
    field = VARIANT_FIELDS.get(type_)
    if field is not None:
        variant = TEMPLATES.get(f"{type_}[{field}={_plain(data.get(field))}]")
        if variant is not None:
            return variant
    return TEMPLATES.get(type_, {})


def render(type_: str, data: dict[str, Any]) -> dict[Audience, Text]:
    """The text each concerned audience gets for one event; audiences without a template get nothing."""
    zh, en = context(data, zh=True), context(data, zh=False)
    return {
        audience: Text(
            title_zh=t.title_zh.format_map(zh),
            body_zh=t.body_zh.format_map(zh),
            title_en=t.title_en.format_map(en),
            body_en=t.body_en.format_map(en),
        )
        for audience, t in templates_for(type_, data).items()
    }


def links(data: dict[str, Any]) -> dict[str, str]:
    return {k: str(data[k]) for k in LINK_FIELDS if data.get(k) is not None}
