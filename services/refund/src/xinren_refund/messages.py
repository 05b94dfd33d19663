"""The refund service's error codes in Chinese (the caller's language by default; English keeps the raised
message). `{name}` placeholders are filled from the error's details."""

MESSAGES_ZH: dict[str, str] = {
    "AMOUNT_EXCEEDS_REFUNDABLE": "退款金额超出该订单可退金额。",
    "CASE_NOT_FOUND": "售后单不存在。",
    "NOT_DELIVERED": "订单尚未签收，暂不能申请此类售后。",
    "ORDER_NOT_FOUND": "订单不存在。",
    "ORDER_NOT_PAID": "订单尚未支付，无法申请售后。",
    "REASON_NOT_ALLOWED": "该售后类型不支持所选原因。",
    "RIGHT_NOT_HELD": "该店铺未开通此项权益。",
    "TYPE_NOT_ALLOWED": "当前订单状态下不支持该售后类型。",
    "WINDOW_CLOSED": "已超过售后申请期限。",
    "ORDER_NOT_YET_VISIBLE": "订单信息同步中，请稍后重试。",
    "PLATFORM_CASE": "该商品已通过平台质检，假货申诉由平台裁决，商家无需处理。",
    "NOT_SHIPPED": "订单尚未发货，暂不能申请补寄。",
    "ITEM_NOT_IN_ORDER": "所选商品不在该订单中。",
    "QUANTITY_EXCEEDS_LINE": "申请数量超过该商品的购买数量。",
    "CASE_LIMIT_REACHED": "该商品的售后申请次数已达上限。",
    "ESCALATION_WINDOW_CLOSED": "已超过申请平台介入的期限。",
    "CASE_ENDED": "售后单已结束，无法继续留言。",
    "EVIDENCE_ALREADY_REQUESTED": "该售后单已要求过买家补充举证。",
    "OFFER_NOT_LOWER": "同一售后方式的协商金额须低于买家申请的金额。",
    "NOT_A_REPLACEMENT": "只有换货或补寄的售后单才能发出换货/补寄商品。",
}
