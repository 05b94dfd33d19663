"""Texts of the quality-check service's events (xinren.qc.v1)."""

from __future__ import annotations

from .text import B, S, Templates, W
from .text import Template as T

QC_TEXTS: Templates = {
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
    # The inspection of an exchange's or reship's replacement (the event names its after-sales case).
    "xinren.qc.case_opened[aftersale_case_id]": {
        B: T(
            "换货/补寄先验后发",
            "订单 {order_id} 的换货/补寄商品将先在质检仓验货，通过后再发给您。",
            "Replacement checked first",
            "The replacement for order {order_id} is checked at the quality-check warehouse before it is shipped "
            "to you.",
        ),
        S: T(
            "换货/补寄待入仓",
            "订单 {order_id} 的换货/补寄商品须在 {inbound_deadline} 前到达质检仓 {warehouse_address}。",
            "Replacement due at the warehouse",
            "The replacement for order {order_id} must reach the warehouse at {warehouse_address} by "
            "{inbound_deadline}.",
        ),
        W: T(
            "新换货/补寄质检单",
            "订单 {order_id} 的换货/补寄质检单 {case_id}（售后 {aftersale_case_id}）已建立，"
            "应于 {inbound_deadline} 前到达。",
            "New replacement inspection",
            "Inspection case {case_id} for the replacement of order {order_id} (after-sales case "
            "{aftersale_case_id}) is open; it is due by {inbound_deadline}.",
        ),
    },
    "xinren.qc.passed[aftersale_case_id]": {
        B: T(
            "换货/补寄质检通过",
            "订单 {order_id} 的换货/补寄商品已通过质检，证书编号 {certificate_no}，即将由质检仓发给您。",
            "Replacement passed",
            "The replacement for order {order_id} passed the quality check (certificate {certificate_no}); the "
            "warehouse ships it to you.",
        ),
        S: T(
            "换货/补寄质检通过",
            "订单 {order_id} 的换货/补寄商品已通过质检（证书编号 {certificate_no}），将由质检仓发给买家。",
            "Replacement passed",
            "The replacement for order {order_id} passed (certificate {certificate_no}); the warehouse ships it to "
            "the buyer.",
        ),
    },
    "xinren.qc.failed[aftersale_case_id]": {
        B: T(
            "换货/补寄质检未通过",
            "订单 {order_id} 的换货/补寄商品未通过质检（{reason}），商家需重新发货。",
            "Replacement failed",
            "The replacement for order {order_id} failed the quality check ({reason}); the seller must ship another.",
        ),
        S: T(
            "换货/补寄质检未通过",
            "订单 {order_id} 的换货/补寄商品未通过质检（{reason}）：{findings}。商品将退回店铺，请重新发货。",
            "Replacement failed",
            "The replacement for order {order_id} failed ({reason}): {findings}. It is sent back to you; ship another.",
        ),
    },
    "xinren.qc.expired[aftersale_case_id]": {
        B: T(
            "换货/补寄未按时入仓",
            "订单 {order_id} 的换货/补寄商品未按时到达质检仓，平台将介入处理。",
            "Replacement not at the warehouse",
            "The replacement for order {order_id} did not reach the quality-check warehouse in time; the "
            "platform steps in.",
        ),
        S: T(
            "换货/补寄入仓超时",
            "订单 {order_id} 的换货/补寄商品未在期限内到达质检仓，售后转平台处理并记录违规。",
            "Replacement deadline missed",
            "The replacement for order {order_id} did not reach the warehouse in time; the platform decides the "
            "case and a strike is recorded.",
        ),
        W: T(
            "换货/补寄质检单已过期",
            "质检单 {case_id}（订单 {order_id} 的换货/补寄）已超过入库期限。",
            "Replacement inspection expired",
            "Inspection case {case_id} (replacement for order {order_id}) passed its inbound deadline.",
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
    "xinren.qc.certificate_revoked": {
        B: T(
            "质检证书已撤销",
            "订单 {order_id} 的质检证书 {certificate_no} 已撤销，赔付由平台质检保障承担。",
            "Certificate revoked",
            "Certificate {certificate_no} of order {order_id} was revoked; the platform's guarantee pays the "
            "compensation.",
        ),
        S: T(
            "质检证书已撤销",
            "订单 {order_id} 的质检证书 {certificate_no} 已撤销，责任由质检仓承担，不计店铺违规。",
            "Certificate revoked",
            "Certificate {certificate_no} of order {order_id} was revoked; the warehouse is liable, "
            "no strike on your shop.",
        ),
        W: T(
            "质检差错",
            "订单 {order_id} 的证书 {certificate_no} 因假货申诉成立被撤销，记为质检差错。",
            "Inspection error",
            "Certificate {certificate_no} of order {order_id} was revoked after an upheld counterfeit claim; "
            "it counts as an inspection error.",
        ),
    },
    "xinren.qc.return_checked": {
        B: T(
            "退货已在质检仓查验",
            "订单 {order_id} 的退货已在质检仓查验（{outcome}）。",
            "Return checked at the warehouse",
            "The return of order {order_id} was checked at the quality-check warehouse ({outcome}).",
        ),
        S: T(
            "退货已在质检仓查验",
            "订单 {order_id} 的退货已按证书 {certificate_no} 查验：{outcome}。",
            "Return checked against the certificate",
            "The return of order {order_id} was checked against certificate {certificate_no}: {outcome}.",
        ),
    },
}
