"""Texts of the order service's events (xinren.orders.v1)."""

from __future__ import annotations

from .text import B, H, S, Templates, W
from .text import Template as T

ORDER_TEXTS: Templates = {
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
    "xinren.order.shipment_corrected": {
        B: T(
            "物流单号已更正",
            "订单 {order_id} 的物流已更正为 {carrier} {tracking_no}。",
            "Tracking number corrected",
            "The parcel of order {order_id} is now {carrier} {tracking_no}.",
        ),
        S: T(
            "物流单号已更正",
            "订单 {order_id} 的物流已由 {previous_carrier} {previous_tracking_no} 更正为 {carrier} {tracking_no}。",
            "Tracking number corrected",
            "Order {order_id}: parcel corrected from {previous_carrier} {previous_tracking_no} "
            "to {carrier} {tracking_no}.",
        ),
    },
    "xinren.order.receipt_extended": {
        B: T(
            "已延长收货",
            "订单 {order_id} 的自动确认收货时间已延长至 {auto_confirm_at}。",
            "Receipt time extended",
            "Order {order_id} now completes by itself at {auto_confirm_at}.",
        ),
        S: T(
            "买家延长收货",
            "买家延长了订单 {order_id} 的收货时间，将于 {auto_confirm_at} 自动确认。",
            "Buyer extended receipt",
            "The buyer extended the receipt time of order {order_id} to {auto_confirm_at}.",
        ),
    },
}
