"""Texts of the refund service's events (xinren.aftersales.v1)."""

from __future__ import annotations

from .text import B, S, Templates
from .text import Template as T

AFTERSALES_TEXTS: Templates = {
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
    "xinren.aftersale.approved[type=EXCHANGE]": {
        B: T(
            "换货申请已同意",
            "订单 {order_id} 的换货申请已同意，请寄回商品，商家收到后将发出新商品。",
            "Exchange approved",
            "Your exchange on order {order_id} was approved: send the item back, the seller then ships a new one.",
        ),
        S: T(
            "换货已同意",
            "订单 {order_id} 的换货申请 {case_id} 已同意，收到退货后请发出换货商品。",
            "Exchange approved",
            "Exchange case {case_id} on order {order_id} was approved; ship the replacement once the item is back.",
        ),
    },
    "xinren.aftersale.approved[type=RESHIP]": {
        B: T(
            "补寄申请已同意",
            "订单 {order_id} 的补寄申请已同意，商家将补发商品。",
            "Reship approved",
            "Your reship request on order {order_id} was approved; the seller sends the missing part again.",
        ),
        S: T(
            "补寄已同意",
            "订单 {order_id} 的补寄申请 {case_id} 已同意，请尽快补发并填写运单号。",
            "Reship approved",
            "Reship case {case_id} on order {order_id} was approved; please ship it and enter the tracking number.",
        ),
    },
    "xinren.aftersale.offer_made": {
        B: T(
            "商家提出协商方案",
            "订单 {order_id} 的售后，商家提议{offer_type}（{offer_amount}），请在 {due_at} 前同意或拒绝。",
            "The seller made a counter-offer",
            "On order {order_id} the seller offers {offer_type} ({offer_amount}); accept or decline by {due_at}.",
        ),
        S: T(
            "协商方案已发出",
            "订单 {order_id} 的售后 {case_id} 的协商方案已发给买家。",
            "Counter-offer sent",
            "Your counter-offer on case {case_id} of order {order_id} was sent to the buyer.",
        ),
    },
    "xinren.aftersale.offer_accepted": {
        B: T(
            "已同意协商方案",
            "您已同意订单 {order_id} 的协商方案（{type}，{amount}）。",
            "Counter-offer accepted",
            "You accepted the counter-offer on order {order_id} ({type}, {amount}).",
        ),
        S: T(
            "买家同意了协商方案",
            "订单 {order_id} 的售后 {case_id}：买家同意了您的方案（{type}，{amount}）。",
            "Counter-offer accepted",
            "The buyer accepted your counter-offer on case {case_id} of order {order_id} ({type}, {amount}).",
        ),
    },
    "xinren.aftersale.offer_declined": {
        B: T(
            "已拒绝协商方案",
            "您已拒绝订单 {order_id} 的协商方案，可在 {due_at} 前申请平台介入。",
            "Counter-offer declined",
            "You declined the counter-offer on order {order_id}; you may ask the platform to step in by {due_at}.",
        ),
        S: T(
            "买家拒绝了协商方案",
            "订单 {order_id} 的售后 {case_id}：买家拒绝了您的方案。",
            "Counter-offer declined",
            "The buyer declined your counter-offer on case {case_id} of order {order_id}.",
        ),
    },
    "xinren.aftersale.evidence_requested": {
        B: T(
            "请补充举证",
            "订单 {order_id} 的售后，商家请您在 {due_at} 前补充凭证：{request_reason}",
            "More evidence needed",
            "On order {order_id} the seller asks for more evidence by {due_at}: {request_reason}",
        ),
        S: T(
            "已请求买家举证",
            "订单 {order_id} 的售后 {case_id} 已请求买家补充凭证。",
            "Evidence requested",
            "You asked the buyer for more evidence on case {case_id} of order {order_id}.",
        ),
    },
    "xinren.aftersale.message_posted": {
        B: T(
            "售后新留言",
            "订单 {order_id} 的售后有新留言：{text}",
            "New message on your case",
            "New message on your after-sales case of order {order_id}: {text}",
        ),
        S: T(
            "售后新留言",
            "订单 {order_id} 的售后 {case_id} 有新留言：{text}",
            "New message on a case",
            "New message on case {case_id} of order {order_id}: {text}",
        ),
    },
    "xinren.aftersale.message_posted[author=BUYER]": {
        S: T(
            "买家留言",
            "订单 {order_id} 的售后 {case_id}，买家留言：{text}",
            "Message from the buyer",
            "The buyer wrote on case {case_id} of order {order_id}: {text}",
        ),
    },
    "xinren.aftersale.message_posted[author=SELLER]": {
        B: T(
            "商家留言",
            "订单 {order_id} 的售后，商家留言：{text}",
            "Message from the seller",
            "The seller wrote on your case of order {order_id}: {text}",
        ),
    },
    "xinren.aftersale.replacement_shipped": {
        B: T(
            "换货/补寄已发出",
            "订单 {order_id} 的{type}商品已由 {carrier} 发出，运单号 {tracking_no}。",
            "Replacement shipped",
            "The {type} parcel of order {order_id} was shipped by {carrier}, tracking number {tracking_no}.",
        ),
        S: T(
            "换货/补寄已发货",
            "订单 {order_id} 的售后 {case_id} 已发货（{carrier} {tracking_no}）。",
            "Replacement shipped",
            "Case {case_id} of order {order_id}: replacement shipped ({carrier} {tracking_no}).",
        ),
    },
    "xinren.aftersale.replacement_shipped[status=REPLACEMENT_INSPECTING]": {
        B: T(
            "换货/补寄送检中",
            "订单 {order_id} 的{type}商品已由商家寄往质检仓（{carrier} {tracking_no}），验货通过后再发给您。",
            "Replacement sent for inspection",
            "The {type} item of order {order_id} was sent to the quality-check warehouse ({carrier} "
            "{tracking_no}); it is shipped to you once it passes.",
        ),
        S: T(
            "换货/补寄已寄往质检仓",
            "订单 {order_id} 的售后 {case_id} 已寄往质检仓（{carrier} {tracking_no}），验货通过后由质检仓发给买家。",
            "Replacement sent to the warehouse",
            "Case {case_id} of order {order_id}: the replacement goes to the quality-check warehouse ({carrier} "
            "{tracking_no}); the warehouse ships it on once it passes.",
        ),
    },
    "xinren.aftersale.replacement_inspected": {
        B: T(
            "换货/补寄已验货",
            "订单 {order_id} 的{type}商品已在质检仓验货：{outcome}。",
            "Replacement inspected",
            "The {type} item of order {order_id} was inspected at the quality-check warehouse: {outcome}.",
        ),
        S: T(
            "换货/补寄验货结果",
            "订单 {order_id} 的售后 {case_id} 的换货/补寄商品验货结果：{outcome}。",
            "Replacement inspected",
            "Case {case_id} of order {order_id}: the replacement was inspected: {outcome}.",
        ),
    },
    "xinren.aftersale.replacement_inspected[outcome=FAILED]": {
        B: T(
            "换货/补寄验货未通过",
            "订单 {order_id} 的{type}商品未通过质检（{failure_reason}），商家需重新发货，质检通过后再发给您。",
            "Replacement failed inspection",
            "The {type} item of order {order_id} failed the quality check ({failure_reason}); the seller must "
            "ship another, which is checked before it comes to you.",
        ),
        S: T(
            "换货/补寄验货未通过",
            "订单 {order_id} 的售后 {case_id} 的换货/补寄商品未通过质检（{failure_reason}）：{findings}。"
            "商品将退回店铺，请在 {due_at} 前重新寄往质检仓。",
            "Replacement failed inspection",
            "Case {case_id} of order {order_id}: the replacement failed ({failure_reason}): {findings}. It is "
            "sent back to you; ship another to the warehouse by {due_at}.",
        ),
    },
    "xinren.aftersale.replacement_delivered": {
        B: T(
            "售后完成",
            "订单 {order_id} 的{type}商品已送达，售后完成。",
            "After-sales completed",
            "The {type} parcel of order {order_id} was delivered; the case is complete.",
        ),
        S: T(
            "售后完成",
            "订单 {order_id} 的售后 {case_id}（{type}）已送达买家，售后完成。",
            "After-sales completed",
            "Case {case_id} ({type}) of order {order_id} was delivered to the buyer; the case is complete.",
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
    "xinren.aftersale.counterfeit_upheld": {
        B: T(
            "假货申诉成立",
            "订单 {order_id} 的假货申诉已由平台裁定成立，证书 {certificate_no} 将被撤销。",
            "Counterfeit claim upheld",
            "The platform upheld your counterfeit claim on order {order_id}; certificate {certificate_no} is revoked.",
        ),
        S: T(
            "假货申诉成立（质检仓担责）",
            "订单 {order_id} 的假货申诉成立；该商品已通过质检，赔付由平台质检保障承担。",
            "Counterfeit claim upheld (warehouse liable)",
            "A counterfeit claim on order {order_id} was upheld; the item had passed quality check, so the "
            "platform's guarantee pays.",
        ),
    },
}
